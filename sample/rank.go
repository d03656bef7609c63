package sample

import (
	"math"
	"slices"
)

// cand is one candidate token.
type cand struct {
	id int32
	l  float64
}

// better orders candidates: higher logit first, ties by lower id.
func better(a, b cand) int {
	switch {
	case a.l > b.l:
		return -1
	case a.l < b.l:
		return 1
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

// ranking gives the candidates in sorted order (better), computing only as
// long a sorted prefix as is asked for.
type ranking struct {
	s      *Sampler
	l      []float64
	limit  int    // number of candidates (top-k), ≤ len(l)
	sorted []cand // the first len(sorted) candidates in order
}

// at returns the candidate of rank i (i < limit).
func (r *ranking) at(i int) cand {
	if i >= len(r.sorted) {
		// First the best 256 (enough for peaked distributions), then all.
		k := len(r.l)
		if len(r.sorted) == 0 && i < 256 && 256*4 < len(r.l) {
			k = 256
		}
		r.sorted = r.s.candidates(r.l, min(k, r.limit))
	}
	return r.sorted[i]
}

// pivot returns the last kept candidate of the first m, and whether every
// id is kept.
func (r *ranking) pivot(m int) (cand, bool) {
	if m == len(r.l) {
		return cand{}, true
	}
	return r.at(m - 1), false
}

// kept reports whether id ranks no lower than pivot.
func (r *ranking) kept(id int, pivot cand, all bool) bool {
	return all || better(cand{int32(id), r.l[id]}, pivot) <= 0
}

// keptIDs returns the ids of the first m candidates in ascending id order
// when that is cheaper than scanning every id, else nil.
func (r *ranking) keptIDs(m int) []int32 {
	if m*16 >= len(r.l) {
		return nil
	}
	if cap(r.s.ids) < m {
		r.s.ids = make([]int32, m)
	}
	ids := r.s.ids[:m]
	for i := range ids {
		ids[i] = r.at(i).id
	}
	slices.Sort(ids)
	return ids
}

// prefixSum returns the sum of the weights of the first m candidates,
// added in ascending id order.
func (r *ranking) prefixSum(w []float64, m int) float64 {
	total := 0.0
	if ids := r.keptIDs(m); ids != nil {
		for _, id := range ids {
			total += w[id]
		}
		return total
	}
	p, all := r.pivot(m)
	for id := range w {
		if r.kept(id, p, all) {
			total += w[id]
		}
	}
	return total
}

// draw walks the first m candidates in ascending id order and returns the
// first whose running weight sum exceeds u × (their total weight).
func (r *ranking) draw(w []float64, m int, u float64) int32 {
	target := u * r.prefixSum(w, m)
	cum := 0.0
	last := int32(-1)
	if ids := r.keptIDs(m); ids != nil {
		for _, id := range ids {
			cum += w[id]
			if target < cum {
				return id
			}
			last = id
		}
		return last
	}
	p, all := r.pivot(m)
	for id := range w {
		if !r.kept(id, p, all) {
			continue
		}
		cum += w[id]
		if target < cum {
			return int32(id)
		}
		last = int32(id)
	}
	return last
}

// candidates returns the ids of l sorted by better, cut to the k best when
// 0 < k < len(l).
func (s *Sampler) candidates(l []float64, k int) []cand {
	n := len(l)
	if cap(s.cands) < n {
		s.cands = make([]cand, n)
	}
	if k <= 0 || k >= n {
		c := s.cands[:n]
		for i, v := range l {
			c[i] = cand{int32(i), v}
		}
		if n < 1024 {
			slices.SortFunc(c, better)
		} else {
			s.radixSort(c, l)
		}
		return c
	}
	// Keep the k best in a heap whose root is the worst kept candidate.
	h := s.cands[:0]
	for i, v := range l {
		x := cand{int32(i), v}
		if len(h) < k {
			h = append(h, x)
			siftUp(h, len(h)-1)
		} else if better(x, h[0]) < 0 {
			h[0] = x
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, better)
	return h
}

// siftUp and siftDown maintain a heap where every parent is worse than its
// children (by better).
func siftUp(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if better(h[i], h[p]) <= 0 {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []cand, i int) {
	for {
		w := i
		if a := 2*i + 1; a < len(h) && better(h[a], h[w]) > 0 {
			w = a
		}
		if b := 2*i + 2; b < len(h) && better(h[b], h[w]) > 0 {
			w = b
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// radixSort sorts c (holding ids 0…n−1 in id order) by better, with a
// stable least-significant-digit radix sort on a key that orders logits
// from highest to lowest; stability keeps equal logits in id order.
func (s *Sampler) radixSort(c []cand, l []float64) {
	n := len(c)
	if cap(s.keys) < 2*n {
		s.keys = make([]keyed, 2*n)
	}
	a, b := s.keys[:n], s.keys[n:2*n]
	for i, x := range c {
		a[i] = keyed{descKey(x.l), x.id}
	}
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		clear(count[:])
		for _, x := range a {
			count[byte(x.key>>shift)]++
		}
		if count[byte(a[0].key>>shift)] == n {
			continue // every key has this digit: the pass would change nothing
		}
		pos := 0
		for d := range count {
			pos, count[d] = pos+count[d], pos
		}
		for _, x := range a {
			d := byte(x.key >> shift)
			b[count[d]] = x
			count[d]++
		}
		a, b = b, a
	}
	for i, x := range a {
		c[i] = cand{x.id, l[x.id]}
	}
}

// keyed is a candidate id with its sort key.
type keyed struct {
	key uint64
	id  int32
}

// descKey maps a logit to a key whose ascending order is the logits'
// descending order; +0 and −0 get the same key, as they compare equal.
func descKey(l float64) uint64 {
	b := math.Float64bits(l + 0) // −0 + 0 = +0
	if b>>63 == 1 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return ^b
}
