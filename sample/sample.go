package sample

import (
	"fmt"
	"math"
)

// DefaultRepeatLastN is the penalty window used when Options.RepeatLastN is
// 0 (llama.cpp's default of 64).
const DefaultRepeatLastN = 64

// Options configure a Sampler. The zero value is greedy decoding.
type Options struct {
	Temperature   float32 // 0 = greedy
	TopK          int     // 0 = off
	TopP          float32 // 0 or 1 = off
	MinP          float32 // 0 = off
	RepeatPenalty float32 // 0 or 1 = off
	// RepeatLastN is the penalty window in history tokens: 0 means
	// DefaultRepeatLastN, a negative value the whole history.
	RepeatLastN int
	Seed        uint64
}

// Validate reports options that are out of range: a negative or non-finite
// temperature, a negative top-k, top-p or min-p outside [0, 1], or a
// negative or non-finite repetition penalty.
func (o Options) Validate() error {
	bad := func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }
	switch {
	case bad(o.Temperature) || o.Temperature < 0:
		return fmt.Errorf("sample: temperature %v must be ≥ 0 (0 = greedy)", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("sample: top-k %d must be ≥ 0 (0 = off)", o.TopK)
	case bad(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("sample: top-p %v must be in [0, 1] (0 or 1 = off)", o.TopP)
	case bad(o.MinP) || o.MinP < 0 || o.MinP > 1:
		return fmt.Errorf("sample: min-p %v must be in [0, 1] (0 = off)", o.MinP)
	case bad(o.RepeatPenalty) || o.RepeatPenalty < 0:
		return fmt.Errorf("sample: repeat penalty %v must be ≥ 0 (0 or 1 = off)", o.RepeatPenalty)
	}
	return nil
}

// Greedy reports whether these options always pick the highest logit: a
// temperature that is not a positive finite number (Validate rejects the
// negative and non-finite ones) means greedy.
func (o Options) Greedy() bool {
	return !(o.Temperature > 0) || math.IsInf(float64(o.Temperature), 1)
}

// Sampler draws tokens with fixed options and its own seeded RNG. It reuses
// its buffers between calls, so it is not safe for concurrent use.
type Sampler struct {
	opts  Options
	rng   RNG
	work  []float64 // penalized logits
	cands []cand
	w     []float64 // weights
	ids   []int32   // kept ids in id order
	rank  ranking
	keys  []keyed  // radix sort buffers
	seen  []uint32 // seen[id] == stamp marks ids already penalized
	stamp uint32
}

// New returns a sampler for opts, seeded with opts.Seed. Out-of-range options
// (see Options.Validate) are treated as off: a negative temperature is greedy,
// top-p outside (0, 1) and min-p outside (0, 1] do nothing.
func New(opts Options) *Sampler {
	s := &Sampler{opts: opts}
	s.rng.Seed(opts.Seed)
	return s
}

// Options returns the options the sampler was created with.
func (s *Sampler) Options() Options { return s.opts }

// Reset reseeds the generator with the options' seed, so the next calls
// repeat the draws of a fresh sampler.
func (s *Sampler) Reset() { s.rng.Seed(s.opts.Seed) }

// Sample returns the id chosen from one row of logits, given the tokens
// produced so far (history, oldest first; used by the repetition penalty).
// The order of operations is given in the package documentation. Neither
// logits nor history is modified. An empty logits row returns -1.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	if len(logits) == 0 {
		return -1
	}
	if !s.penalty() && s.opts.Greedy() {
		return Greedy(logits)
	}
	l := s.penalized(logits, history, s.penalty())
	best := greedy64(l)
	if s.opts.Greedy() {
		return best
	}
	u := s.rng.Float64() // drawn first: every non-greedy call takes one
	r, w, m := s.keep(l, best)
	if r == nil {
		return best // nothing finite to weigh: the best-ranked id
	}
	return r.draw(w, m, u)
}

// keep scales the penalized logits l (whose best id is best) by the
// temperature in place and applies top-k, top-p and min-p. The kept
// candidates are the first m of the returned ranking; w holds every id's
// weight. A nil ranking means the best logit is not finite.
func (s *Sampler) keep(l []float64, best int32) (r *ranking, w []float64, m int) {
	inv := 1 / float64(s.opts.Temperature)
	for i := range l {
		l[i] *= inv
	}
	maxL := l[best]
	if math.IsInf(maxL, 0) || math.IsNaN(maxL) {
		return nil, nil, 0
	}
	w = s.weights(l, maxL)
	r = &s.rank
	*r = ranking{s: s, l: l, limit: len(l)}
	if k := s.opts.TopK; k > 0 && k < len(l) {
		r.limit = k
	}
	m = r.limit // the kept candidates are the first m in sorted order
	if p := float64(s.opts.TopP); p > 0 && p < 1 {
		total := r.prefixSum(w, m)
		cum := 0.0
		for i := range m {
			cum += w[r.at(i).id]
			if cum >= p*total {
				m = i + 1
				break
			}
		}
	}
	if mp := float64(s.opts.MinP); mp > 0 && mp <= 1 {
		th := maxL + math.Log(mp)
		k := 1
		for k < m && r.at(k).l >= th {
			k++
		}
		m = k
	}
	return r, w, m
}

// penalty reports whether the repetition penalty is on.
func (s *Sampler) penalty() bool {
	p := float64(s.opts.RepeatPenalty)
	return p > 0 && p != 1 && !math.IsInf(p, 0)
}

// weights returns exp(l[i] − maxL) for every id, in a reused buffer.
func (s *Sampler) weights(l []float64, maxL float64) []float64 {
	if cap(s.w) < len(l) {
		s.w = make([]float64, len(l))
	}
	w := s.w[:len(l)]
	for i, v := range l {
		w[i] = math.Exp(v - maxL)
	}
	return w
}

// penalized copies logits to float64 (NaN becomes -Inf) and applies the
// repetition penalty when asked.
func (s *Sampler) penalized(logits []float32, history []int32, penalty bool) []float64 {
	n := len(logits)
	if cap(s.work) < n {
		s.work = make([]float64, n)
	}
	l := s.work[:n]
	for i, v := range logits {
		f := float64(v)
		if math.IsNaN(f) {
			f = math.Inf(-1)
		}
		l[i] = f
	}
	if !penalty {
		return l
	}
	last := s.opts.RepeatLastN
	if last == 0 {
		last = DefaultRepeatLastN
	}
	if last > 0 && last < len(history) {
		history = history[len(history)-last:]
	}
	if len(s.seen) < n {
		s.seen = make([]uint32, n)
		s.stamp = 0
	}
	s.stamp++
	if s.stamp == 0 { // wrapped: clear the marks
		clear(s.seen)
		s.stamp = 1
	}
	p := float64(s.opts.RepeatPenalty)
	for _, id := range history {
		if id < 0 || int(id) >= n || s.seen[id] == s.stamp {
			continue
		}
		s.seen[id] = s.stamp
		if l[id] > 0 {
			l[id] /= p
		} else {
			l[id] *= p
		}
	}
	return l
}

// Greedy returns the id of the highest logit; ties go to the lowest id and
// NaN never wins (an all-NaN row returns 0). An empty row returns -1.
func Greedy(logits []float32) int32 {
	best := int32(-1)
	for i, v := range logits {
		if v != v {
			continue
		}
		if best < 0 || v > logits[best] {
			best = int32(i)
		}
	}
	if best < 0 && len(logits) > 0 {
		return 0
	}
	return best
}

func greedy64(l []float64) int32 {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return int32(best)
}

// TopK returns the ids of the k highest logits, best first, ties lowest id
// first (NaN counts as -Inf). k larger than len(logits) returns every id;
// k ≤ 0 returns nil. It allocates; it is meant for reports, not hot loops.
func TopK(logits []float32, k int) []int32 {
	if k <= 0 || len(logits) == 0 {
		return nil
	}
	var s Sampler
	l := s.penalized(logits, nil, false)
	c := s.candidates(l, k)
	ids := make([]int32, len(c))
	for i := range c {
		ids[i] = c[i].id
	}
	return ids
}
