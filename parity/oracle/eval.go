package oracle

import (
	"fmt"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
)

// Options configure an Evaluator.
type Options struct {
	Config  *model.Config
	Weights *model.Weights
	// Tokens are the ids at positions 0, 1, …, len(Tokens)−1.
	Tokens []int32
	// Captured returns one path's materialized checkpoint as a row-major
	// [len(Tokens), Cols] float64 tensor. Nil for the global oracle.
	Captured func(name string) ([]float64, bool)
	// Cache shares dequantized weights between evaluators; nil makes one.
	Cache *Cache
	// RoundActivations makes every mul_mat first round each input row as
	// llama.cpp's CPU backend does for the weight's dtype (package vecdot:
	// f16/bf16 for F16/BF16 weights, Q8_0 or Q8_K blocks for quantized
	// ones — its vec_dot_type): the arithmetic the ggml-cpu profile and
	// llama.cpp declare. Callers set it from the path's declared profile.
	RoundActivations bool
	// KVF16 says the path stores its KV cache in f16: the attention of a
	// local recomputation reads k_rope and v rounded to f16, as the path
	// read them from its cache.
	KVF16 bool
	// Jitter, when non-zero, multiplies every element each operation
	// produces by (1 + Jitter·u), u uniform in [−1, 1] from a SplitMix64
	// stream seeded with Seed: the self-check's "perturbed rounding".
	Jitter float64
	Seed   uint64
}

// Result is one recomputed checkpoint.
type Result struct {
	Data []float64 // row-major [len(Tokens), Cols]
	Cols int
	// Ops lists the operations evaluated in float64 to produce Data: the
	// checkpoint's own op first, then those of any input the path did not
	// materialize (recomputed in turn).
	Ops []string
	// Inputs are the captured checkpoints Data was computed from.
	Inputs []string
	// Ties are the activation quantization ties of Data (ties.go): set
	// only by a local oracle (Captured set) under RoundActivations, for a
	// mul_mat whose input was recomputed, and carried through the ops
	// after it up to here.
	Ties []Tie
	// TiesCapped counts the positions whose ties, more than
	// MaxTiesPerPos, were dropped (none is listed there).
	TiesCapped int
	// captured marks a path's own checkpoint (no op evaluated).
	captured bool
}

// Evaluator computes checkpoints in float64. It is not safe for concurrent
// use.
type Evaluator struct {
	o    Options
	c    *model.Config
	g    *model.Graph
	n    int
	memo map[string]*Result
	rng  uint64
}

// New returns an evaluator. It checks that the config is one the oracle
// knows how to run.
func New(o Options) (*Evaluator, error) {
	c := o.Config
	if c == nil || o.Weights == nil {
		return nil, fmt.Errorf("oracle: config and weights are required")
	}
	switch c.Arch {
	case "llama", "qwen2", "qwen3":
	default:
		return nil, fmt.Errorf("oracle: architecture %q is not supported", c.Arch)
	}
	if c.Heads <= 0 || c.KVHeads <= 0 || c.Heads%c.KVHeads != 0 || c.HeadDim <= 0 || c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return nil, fmt.Errorf("oracle: inconsistent heads %d/%d, head dim %d, rope dim %d", c.Heads, c.KVHeads, c.HeadDim, c.RopeDim)
	}
	if len(o.Weights.Layers) != c.Layers {
		return nil, fmt.Errorf("oracle: %d bound layers, config says %d", len(o.Weights.Layers), c.Layers)
	}
	for i, t := range o.Tokens {
		if t < 0 || int(t) >= c.Vocab {
			return nil, fmt.Errorf("oracle: token %d at position %d is outside the vocabulary (%d)", t, i, c.Vocab)
		}
	}
	if o.Cache == nil {
		o.Cache = NewCache()
	}
	return &Evaluator{o: o, c: c, g: model.NewGraph(c), n: len(o.Tokens), memo: map[string]*Result{}, rng: o.Seed}, nil
}

// Value returns name as the path materialized it when captured, else as
// computed in float64 from its inputs (recursively).
func (e *Evaluator) Value(name string) (*Result, error) {
	if e.o.Captured != nil {
		if d, ok := e.o.Captured(name); ok {
			node, _, err := e.g.Check(name)
			if err != nil {
				return nil, err
			}
			cols := node.Width.Of(e.c)
			if len(d) != e.n*cols {
				return nil, fmt.Errorf("oracle: captured %s has %d values, want %d positions × %d", name, len(d), e.n, cols)
			}
			return &Result{Data: d, Cols: cols, Inputs: []string{name}, captured: true}, nil
		}
	}
	return e.Compute(name)
}

// Compute recomputes name in float64 from its inputs' Values: for the local
// oracle, the path's own upstream checkpoints. Results are memoized.
func (e *Evaluator) Compute(name string) (*Result, error) {
	if r, ok := e.memo[name]; ok {
		return r, nil
	}
	node, l, err := e.g.Check(name)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	names, err := e.g.Inputs(name)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	in := make([]*Result, len(names))
	r := &Result{Cols: node.Width.Of(e.c), Ops: []string{string(node.Op)}}
	for i, n := range names {
		if in[i], err = e.Value(n); err != nil {
			return nil, err
		}
		r.Ops = appendNew(r.Ops, in[i].Ops...)
		r.Inputs = appendNew(r.Inputs, in[i].Inputs...)
	}
	if r.Data, err = e.apply(node, l, in); err != nil {
		return nil, fmt.Errorf("oracle: %s: %w", name, err)
	}
	if err := e.ties(node, l, in, names, r); err != nil {
		return nil, fmt.Errorf("oracle: %s: %w", name, err)
	}
	if e.o.Jitter != 0 {
		for i, v := range r.Data {
			r.Data[i] = v * (1 + e.o.Jitter*e.uniform())
		}
	}
	e.memo[name] = r
	return r, nil
}

// Forget drops the memoized result of name (a checkpoint or a stage
// checkpoint), so that its memory can be reclaimed once no later
// computation reads it. A later Compute or Value of name recomputes it
// (the same values, but with Jitter a fresh draw of the noise).
func (e *Evaluator) Forget(name string) { delete(e.memo, name) }

// apply evaluates node's op at layer l on its inputs' values, reading the
// weights the graph names.
func (e *Evaluator) apply(node model.Node, l int, in []*Result) ([]float64, error) {
	c, w, cache, t := e.c, e.o.Weights, e.o.Cache, e.n
	eps := float64(c.NormEps)
	ws := make([]*model.Weight, len(node.Weights))
	for i, name := range node.Weights {
		if ws[i] = w.Lookup(l, name); ws[i] == nil {
			return nil, fmt.Errorf("the weights have no %s for layer %d", name, l)
		}
	}
	norm := func(x []float64, n int, gw *model.Weight) ([]float64, error) {
		g, err := cache.vector(gw, n)
		if err != nil {
			return nil, err
		}
		return rmsNorm(x, n, g, eps), nil
	}
	proj := func(mw, bias *model.Weight) ([]float64, error) {
		x := in[0].Data
		if e.o.RoundActivations && mw.Type != gguf.TypeF32 {
			x = roundRows(mw.Type, x, mw.K)
		}
		y, err := cache.matmul(mw, x, t)
		if err != nil || bias == nil || bias.Data == nil {
			return y, err
		}
		b, err := cache.vector(bias, mw.N)
		if err != nil {
			return nil, err
		}
		addBias(y, b)
		return y, nil
	}
	switch node.Op {
	case model.OpGetRows:
		return e.embed(ws[0])
	case model.OpRMSNorm:
		return norm(in[0].Data, ws[0].K, ws[0])
	case model.OpMulMat:
		var bias *model.Weight
		if len(ws) > 1 {
			bias = ws[1]
		}
		return proj(ws[0], bias)
	case model.OpRope:
		return rope(in[0].Data, in[0].Cols, c.HeadDim, c.RopeDim, float64(c.RopeBase), c.RopeStyle), nil
	case model.OpAttention:
		k, v := in[1].Data, in[2].Data
		if e.o.KVF16 {
			k, v = roundF16(k), roundF16(v)
		}
		return attention(in[0].Data, k, v, t, c.Heads, c.KVHeads, c.HeadDim), nil
	case model.OpAdd:
		if len(in) == 1 && len(ws) == 1 { // a bias (a stage checkpoint)
			b, err := cache.vector(ws[0], in[0].Cols)
			if err != nil {
				return nil, err
			}
			y := append([]float64(nil), in[0].Data...)
			addBias(y, b)
			return y, nil
		}
		return add(in[0].Data, in[1].Data), nil
	case model.OpSwiGLU:
		return swiglu(in[0].Data, in[1].Data), nil
	}
	return nil, fmt.Errorf("no recipe for op %s of %s", node.Op, node.Kind)
}

// embed gathers the token rows of the table w, dequantizing only those
// rows.
func (e *Evaluator) embed(w *model.Weight) ([]float64, error) {
	d := e.c.Dim
	if w.K != d {
		return nil, fmt.Errorf("token_embd rows have %d elements, want %d", w.K, d)
	}
	y := make([]float64, e.n*d)
	for i, tok := range e.o.Tokens {
		if err := rows(w, int(tok), int(tok)+1, y[i*d:(i+1)*d]); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// uniform returns the next value of the evaluator's SplitMix64 stream
// mapped to [−1, 1].
func (e *Evaluator) uniform() float64 {
	e.rng += 0x9e3779b97f4a7c15
	z := e.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)*0x1p-52 - 1
}

func appendNew(s []string, add ...string) []string {
outer:
	for _, a := range add {
		for _, x := range s {
			if x == a {
				continue outer
			}
		}
		s = append(s, a)
	}
	return s
}

// roundRows returns a copy of x (rows of k) with each row rounded as
// llama.cpp's CPU backend rounds activations for weights of type t
// (package vecdot, the oracle's own copy of those rules).
func roundRows(t gguf.Type, x []float64, k int) []float64 {
	out := append([]float64(nil), x...)
	for r := 0; r+k <= len(out); r += k {
		vecdot.Round(t, out[r:r+k])
	}
	return out
}

// roundF16 returns a copy of x with each value rounded to float32 and then
// to the nearest f16 (ties to even), as a path stores its KV cache.
func roundF16(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(gguf.F16ToF32(gguf.F32ToF16(float32(v))))
	}
	return out
}
