package parity

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
	"github.com/metallic-go/metallic/sample"
)

// Divergence classes (DESIGN.md, generation parity).
const (
	ClassNone    = "none"     // the streams agree
	ClassTieFlip = "tie_flip" // top-2 gap ≤ ε and each pick in the other's top-5
	ClassDrift   = "drift"    // each pick in the other's top-5, not a tie
	ClassWrong   = "wrong"    // a pick outside the other's top-5
)

// TokensOptions configure RunTokens.
type TokensOptions struct {
	// Paths are compared pairwise against the first (the reference).
	Paths []model.Path
	// Names are the paths' names in the report (streams, pairs), by index
	// (Target.DisplayName: "reference@cuda" when the run spans two
	// backends); nil or an empty entry means Path.Name().
	Names   []string
	Prompt  []int32
	N       int            // tokens to generate
	Sampler sample.Options // the same options and seed for every path
	TieEps  float64        // 0 means TieEps
	// DType is the paths' activation storage dtype: it selects KLLimits.
	DType DType
	// Weights, when set, let a pair whose declared numerics round mul_mat
	// inputs differently (plain against llama.cpp, say) be judged with the
	// KL limits of that rounding's precision (RoundingKLDType) when they
	// are looser than the storage dtype's.
	Weights *model.Weights
	// Hooks, when set, are installed on the path of the same index while it
	// generates (perturbation).
	Hooks []model.Hook
	// Progress, when set, is told about each stage.
	Progress func(stage string)
	// Setup is reported with the result (Session.Setup); when its
	// LlamaCpp is nil it is taken from the paths, and an empty KV means
	// DType.
	Setup Setup
}

// Candidate is one entry of a top-5 list.
type Candidate struct {
	ID    int32   `json:"id"`
	Logit float32 `json:"logit"`
}

// TokenPair compares one path's stream with the reference's.
type TokenPair struct {
	A               string                 `json:"a"` // the reference
	B               string                 `json:"b"`
	FirstDivergence int                    `json:"first_divergence"` // index into the generated tokens, -1 if none
	Class           string                 `json:"class"`
	Gap             Num                    `json:"gap"` // logit gap between the two picks at the divergence (max over both paths)
	Top5            map[string][]Candidate `json:"top5"`
	KLMean          Num                    `json:"kld_mean"` // KL(p_a ‖ p_b), nats, teacher-forced on a's stream
	KLP99           Num                    `json:"kld_p99"`
	KLMax           Num                    `json:"kld_max"`
	Top1Agreement   Num                    `json:"top1_agreement"`
	RMSdp           Num                    `json:"rms_dp"` // RMS of p_a(next) − p_b(next), next = a's next token
	Positions       int                    `json:"positions"`
	Verdict         string                 `json:"verdict"`
	Note            string                 `json:"note,omitempty"`
}

// Tokens is a generation-parity report. Its top-level divergence and KL
// fields repeat the worst pair's.
type Tokens struct {
	Setup
	Prompt  []int32            `json:"prompt_tokens"`
	Streams map[string][]int32 `json:"streams"`
	// Numerics is, per path, the arithmetic it declares.
	Numerics map[string]string `json:"numerics"`
	Pairs    []TokenPair       `json:"pairs"`
	TokenPair
}

// Failed reports whether a pair failed.
func (t *Tokens) Failed() bool {
	for _, p := range t.Pairs {
		if p.Verdict == Fail {
			return true
		}
	}
	return false
}

// RunTokens samples N tokens from every path with the same sampler and
// seed, finds where each stream first leaves the reference's and classifies
// it, then feeds every path the reference stream (teacher forcing) and
// measures the distance between next-token distributions at each position.
func RunTokens(o TokensOptions) (*Tokens, error) {
	if len(o.Paths) < 2 {
		return nil, fmt.Errorf("parity: token parity needs at least two paths")
	}
	if len(o.Prompt) == 0 || o.N <= 0 {
		return nil, fmt.Errorf("parity: token parity needs a prompt and N > 0")
	}
	if err := o.Sampler.Validate(); err != nil {
		return nil, err
	}
	eps := o.TieEps
	if eps == 0 {
		eps = TieEps
	}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	name := func(i int) string {
		if i < len(o.Names) && o.Names[i] != "" {
			return o.Names[i]
		}
		return o.Paths[i].Name()
	}
	all := make([]string, len(o.Paths))
	for i := range o.Paths {
		all[i] = name(i)
	}
	for i, n := range all {
		if slices.Contains(all[:i], n) {
			return nil, fmt.Errorf("parity: token parity: two paths named %q (name them PATH@BACKEND)", n)
		}
	}
	res := &Tokens{Setup: o.Setup, Prompt: slices.Clone(o.Prompt), Streams: map[string][]int32{}, Numerics: map[string]string{}}
	if res.LlamaCpp == nil {
		res.LlamaCpp = model.EngineOf(o.Paths...)
	}
	if res.Backends == nil {
		b := backendsOf(o.Paths, all)
		res.Backends, res.order = b.Backends, b.order
	}
	if res.KV == "" {
		res.KV = o.DType
	}
	gens := make([]*generation, len(o.Paths))
	for i, p := range o.Paths {
		progress("generate " + name(i))
		var h model.Hook
		if i < len(o.Hooks) {
			h = o.Hooks[i]
		}
		g, err := generate(p, name(i), o.Prompt, o.N, o.Sampler, h)
		if err != nil {
			return nil, err
		}
		gens[i] = g
		res.Streams[name(i)] = g.tokens
		res.Numerics[name(i)] = p.Numerics()
	}
	ref := gens[0]
	refDist, err := teacherForced(o.Paths[0], name(0), o.Prompt, ref.tokens, o.Hooks, 0)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(o.Paths); i++ {
		progress("teacher-forced " + name(i))
		pr := TokenPair{A: name(0), B: name(i), FirstDivergence: -1, Class: ClassNone, Top5: map[string][]Candidate{}}
		g := gens[i]
		for s := range ref.tokens {
			if g.tokens[s] != ref.tokens[s] {
				pr.FirstDivergence = s
				pr.Class, pr.Gap = classify(ref.logits[s], g.logits[s], ref.tokens[s], g.tokens[s], eps)
				pr.Top5[pr.A], pr.Top5[pr.B] = top5(ref.logits[s]), top5(g.logits[s])
				break
			}
		}
		dist, err := teacherForced(o.Paths[i], name(i), o.Prompt, ref.tokens, o.Hooks, i)
		if err != nil {
			return nil, err
		}
		klStats(&pr, refDist, dist, ref.tokens)
		pr.Verdict = Pass
		lim := KLLimitFor(o.DType)
		ra, err := RoundingFor(o.Paths[0].Numerics())
		if err != nil {
			return nil, fmt.Errorf("parity: path %s: %w", pr.A, err)
		}
		rb, err := RoundingFor(o.Paths[i].Numerics())
		if err != nil {
			return nil, fmt.Errorf("parity: path %s: %w", pr.B, err)
		}
		if d := RoundingKLDType(o.Weights); ra != rb && d != "" {
			if l := KLLimitFor(d); l.Mean > lim.Mean {
				lim = l
				pr.Note = fmt.Sprintf("numerics differ (%s %s, %s %s): mul_mat inputs rounded on one side only, judged with %s's KL limits",
					pr.A, o.Paths[0].Numerics(), pr.B, o.Paths[i].Numerics(), d)
			}
		}
		if pr.Class == ClassDrift || pr.Class == ClassWrong || !(float64(pr.KLMean) <= lim.Mean) || !(float64(pr.KLMax) <= lim.Max) {
			pr.Verdict = Fail
		}
		res.Pairs = append(res.Pairs, pr)
	}
	worst := 0
	for i, p := range res.Pairs {
		w := res.Pairs[worst]
		if (p.Verdict == Fail && w.Verdict != Fail) || (p.Verdict == w.Verdict && p.FirstDivergence >= 0 && (w.FirstDivergence < 0 || p.FirstDivergence < w.FirstDivergence)) {
			worst = i
		}
	}
	res.TokenPair = res.Pairs[worst]
	return res, nil
}

// RoundingKLDType is the storage dtype whose precision the vec_dot
// rounding of w's projections matches, for the KL limits of a pair whose
// numerics round differently: f16 when the coarsest rounding is to f16
// (F16 weights), bf16 for bf16 and for the 8-bit Q8_0/Q8_K quantization
// of quantized weights; "" when every weight is F32 (or w is nil), where
// the roundings agree.
func RoundingKLDType(w *model.Weights) DType {
	if w == nil {
		return ""
	}
	var d DType
	for _, x := range projections(w) {
		switch vecdot.ClassOf(x.Type) {
		case vecdot.None:
		case vecdot.F16:
			if d == "" {
				d = F16
			}
		default:
			d = BF16
		}
	}
	return d
}

type generation struct {
	tokens []int32
	logits [][]float32 // the logits each token was sampled from
}

func generate(p model.Path, name string, prompt []int32, n int, so sample.Options, h model.Hook) (*generation, error) {
	vocab := p.Config().Vocab
	p.Reset()
	p.SetHook(h)
	defer p.SetHook(nil)
	defer p.Reset()
	s := sample.New(so)
	hist := slices.Clone(prompt)
	lg, err := p.Forward(prompt, 0)
	if err != nil {
		return nil, fmt.Errorf("parity: %s: %w", name, err)
	}
	g := &generation{}
	for i := 0; ; i++ {
		if len(lg) < vocab {
			return nil, fmt.Errorf("parity: %s returned %d logits, want ≥ %d", name, len(lg), vocab)
		}
		last := slices.Clone(lg[len(lg)-vocab:])
		tok := s.Sample(last, hist)
		g.tokens, g.logits = append(g.tokens, tok), append(g.logits, last)
		hist = append(hist, tok)
		if i == n-1 {
			return g, nil
		}
		if lg, err = p.Forward([]int32{tok}, len(hist)-1); err != nil {
			return nil, fmt.Errorf("parity: %s: %w", name, err)
		}
	}
}

// teacherForced feeds prompt+stream[:len−1] to p in one call and returns the
// next-token distributions (float64 softmax) at the positions that predict
// stream[0], stream[1], ….
func teacherForced(p model.Path, name string, prompt, stream []int32, hooks []model.Hook, i int) ([][]float64, error) {
	vocab := p.Config().Vocab
	seq := append(slices.Clone(prompt), stream[:len(stream)-1]...)
	p.Reset()
	if i < len(hooks) {
		p.SetHook(hooks[i])
	}
	defer p.SetHook(nil)
	defer p.Reset()
	lg, err := p.Forward(seq, 0)
	if err != nil {
		return nil, fmt.Errorf("parity: %s: teacher-forced: %w", name, err)
	}
	if len(lg) != len(seq)*vocab {
		return nil, fmt.Errorf("parity: %s returned %d logits, want %d×%d", name, len(lg), len(seq), vocab)
	}
	var out [][]float64
	for pos := len(prompt) - 1; pos < len(seq); pos++ {
		out = append(out, softmax(lg[pos*vocab:(pos+1)*vocab]))
	}
	return out, nil
}

func softmax(l []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range l {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(l))
	sum := 0.0
	for i, v := range l {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// klStats fills the KL, top-1 and Δp statistics of pr.
func klStats(pr *TokenPair, pa, pb [][]float64, next []int32) {
	kls := make([]float64, len(pa))
	agree, dp2 := 0, 0.0
	for s := range pa {
		kl := 0.0
		for v, p := range pa[s] {
			if p > 0 {
				kl += p * math.Log(p/math.Max(pb[s][v], 1e-300))
			}
		}
		kls[s] = math.Max(kl, 0)
		if argmax(pa[s]) == argmax(pb[s]) {
			agree++
		}
		d := pa[s][next[s]] - pb[s][next[s]]
		dp2 += d * d
	}
	n := float64(len(kls))
	sorted := slices.Clone(kls)
	sort.Float64s(sorted)
	sum := 0.0
	for _, k := range kls {
		sum += k
	}
	pr.Positions = len(kls)
	pr.KLMean = Num(sum / n)
	pr.KLMax = Num(sorted[len(sorted)-1])
	pr.KLP99 = Num(sorted[max(0, int(math.Ceil(0.99*n))-1)])
	pr.Top1Agreement = Num(float64(agree) / n)
	pr.RMSdp = Num(math.Sqrt(dp2 / n))
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// classify applies DESIGN.md's classes to the first differing step: ta and
// tb are the tokens path a and b chose from logits la and lb.
func classify(la, lb []float32, ta, tb int32, eps float64) (string, Num) {
	ka, kb := sample.TopK(la, 5), sample.TopK(lb, 5)
	cross := slices.Contains(kb, ta) && slices.Contains(ka, tb)
	gap := math.Max(math.Abs(float64(la[ta]-la[tb])), math.Abs(float64(lb[tb]-lb[ta])))
	switch {
	case cross && gap <= eps:
		return ClassTieFlip, Num(gap)
	case cross:
		return ClassDrift, Num(gap)
	}
	return ClassWrong, Num(gap)
}

func top5(l []float32) []Candidate {
	var c []Candidate
	for _, id := range sample.TopK(l, 5) {
		c = append(c, Candidate{ID: id, Logit: l[id]})
	}
	return c
}
