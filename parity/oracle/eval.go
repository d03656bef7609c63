package oracle

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
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
	// RoundActivations makes the mul_mat of a local recomputation first
	// round each input row the way the path does for the weight's dtype
	// (backend.RoundForDot: f16/bf16 for F16/BF16 weights, Q8_0 or Q8_K
	// blocks for quantized ones — llama.cpp's vec_dot_type), so a path that
	// models llama.cpp's arithmetic is judged from the values it multiplied.
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
}

// Evaluator computes checkpoints in float64. It is not safe for concurrent
// use.
type Evaluator struct {
	o    Options
	c    *model.Config
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
	return &Evaluator{o: o, c: c, n: len(o.Tokens), memo: map[string]*Result{}, rng: o.Seed}, nil
}

// Op names the operation that produces a checkpoint kind (llama.cpp's
// spelling where it has one): get_rows, rms_norm, mul_mat, rope, attention,
// add, swiglu.
func Op(kind string) string {
	switch kind {
	case "embd":
		return "get_rows"
	case "attn_norm", "ffn_norm", "output_norm", "q_norm", "k_norm":
		return "rms_norm"
	case "q", "k", "v", "attn_proj", "ffn_gate", "ffn_up", "ffn_out", "logits":
		return "mul_mat"
	case "q_rope", "k_rope":
		return "rope"
	case "attn_out":
		return "attention"
	case "ffn_inp", "l_out":
		return "add"
	case "ffn_act":
		return "swiglu"
	}
	return "unknown"
}

// Cols returns the row width of a checkpoint kind.
func Cols(c *model.Config, kind string) int {
	switch kind {
	case "q", "q_norm", "q_rope", "attn_out":
		return c.Heads * c.HeadDim
	case "k", "v", "k_norm", "k_rope":
		return c.KVHeads * c.HeadDim
	case "ffn_gate", "ffn_up", "ffn_act":
		return c.FF
	case "logits":
		return c.Vocab
	}
	return c.Dim
}

// Inputs returns the full names of the checkpoints name is computed from.
func Inputs(c *model.Config, name string) ([]string, error) {
	kind, l, err := model.ParseCheckpoint(name)
	if err != nil {
		return nil, err
	}
	if l >= c.Layers {
		return nil, fmt.Errorf("oracle: %s: the model has %d layers", name, c.Layers)
	}
	if (kind == "q_norm" || kind == "k_norm") && !c.QKNorm {
		return nil, fmt.Errorf("oracle: %s: %s has no q/k norm", name, c.Arch)
	}
	b := func(k string) string { return model.CheckpointName(k, l) }
	prev := "embd"
	if l > 0 {
		prev = model.CheckpointName("l_out", l-1)
	}
	switch kind {
	case "embd":
		return nil, nil
	case "attn_norm":
		return []string{prev}, nil
	case "q", "k", "v":
		return []string{b("attn_norm")}, nil
	case "q_norm":
		return []string{b("q")}, nil
	case "k_norm":
		return []string{b("k")}, nil
	case "q_rope", "k_rope":
		src := kind[:1]
		if c.QKNorm {
			src += "_norm"
		}
		return []string{b(src)}, nil
	case "attn_out":
		return []string{b("q_rope"), b("k_rope"), b("v")}, nil
	case "attn_proj":
		return []string{b("attn_out")}, nil
	case "ffn_inp":
		return []string{prev, b("attn_proj")}, nil
	case "ffn_norm":
		return []string{b("ffn_inp")}, nil
	case "ffn_gate", "ffn_up":
		return []string{b("ffn_norm")}, nil
	case "ffn_act":
		return []string{b("ffn_gate"), b("ffn_up")}, nil
	case "ffn_out":
		return []string{b("ffn_act")}, nil
	case "l_out":
		return []string{b("ffn_inp"), b("ffn_out")}, nil
	case "output_norm":
		return []string{model.CheckpointName("l_out", c.Layers-1)}, nil
	case "logits":
		return []string{"output_norm"}, nil
	}
	return nil, fmt.Errorf("oracle: no recipe for %s", name)
}

// Value returns name as the path materialized it when captured, else as
// computed in float64 from its inputs (recursively).
func (e *Evaluator) Value(name string) (*Result, error) {
	if e.o.Captured != nil {
		if d, ok := e.o.Captured(name); ok {
			kind, _, err := model.ParseCheckpoint(name)
			if err != nil {
				return nil, err
			}
			cols := Cols(e.c, kind)
			if len(d) != e.n*cols {
				return nil, fmt.Errorf("oracle: captured %s has %d values, want %d positions × %d", name, len(d), e.n, cols)
			}
			return &Result{Data: d, Cols: cols, Inputs: []string{name}}, nil
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
	names, err := Inputs(e.c, name)
	if err != nil {
		return nil, err
	}
	kind, l, _ := model.ParseCheckpoint(name)
	in := make([]*Result, len(names))
	r := &Result{Cols: Cols(e.c, kind), Ops: []string{Op(kind)}}
	for i, n := range names {
		if in[i], err = e.Value(n); err != nil {
			return nil, err
		}
		r.Ops = appendNew(r.Ops, in[i].Ops...)
		r.Inputs = appendNew(r.Inputs, in[i].Inputs...)
	}
	if r.Data, err = e.apply(kind, l, in); err != nil {
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

func (e *Evaluator) apply(kind string, l int, in []*Result) ([]float64, error) {
	c, w, cache, t := e.c, e.o.Weights, e.o.Cache, e.n
	eps := float64(c.NormEps)
	var ly *model.Layer
	if l >= 0 {
		ly = &w.Layers[l]
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
	switch kind {
	case "embd":
		return e.embed()
	case "attn_norm":
		return norm(in[0].Data, c.Dim, &ly.AttnNorm)
	case "ffn_norm":
		return norm(in[0].Data, c.Dim, &ly.FFNNorm)
	case "output_norm":
		return norm(in[0].Data, c.Dim, &w.OutputNorm)
	case "q_norm":
		return norm(in[0].Data, c.HeadDim, &ly.QNorm)
	case "k_norm":
		return norm(in[0].Data, c.HeadDim, &ly.KNorm)
	case "q":
		return proj(&ly.Q, &ly.QBias)
	case "k":
		return proj(&ly.K, &ly.KBias)
	case "v":
		return proj(&ly.V, &ly.VBias)
	case "attn_proj":
		return proj(&ly.O, nil)
	case "ffn_gate":
		return proj(&ly.Gate, nil)
	case "ffn_up":
		return proj(&ly.Up, nil)
	case "ffn_out":
		return proj(&ly.Down, nil)
	case "logits":
		return proj(&w.Output, nil)
	case "q_rope", "k_rope":
		return rope(in[0].Data, in[0].Cols, c.HeadDim, c.RopeDim, float64(c.RopeBase), c.RopeStyle), nil
	case "attn_out":
		k, v := in[1].Data, in[2].Data
		if e.o.KVF16 {
			k, v = roundF16(k), roundF16(v)
		}
		return attention(in[0].Data, k, v, t, c.Heads, c.KVHeads, c.HeadDim), nil
	case "ffn_inp", "l_out":
		return add(in[0].Data, in[1].Data), nil
	case "ffn_act":
		return swiglu(in[0].Data, in[1].Data), nil
	}
	return nil, fmt.Errorf("no recipe for %s", kind)
}

// embed gathers the token rows of token_embd, dequantizing only those rows.
func (e *Evaluator) embed() ([]float64, error) {
	w := &e.o.Weights.Embd
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

// roundRows returns a copy of x (rows of k) with each row rounded to float32
// and then as backend.RoundForDot rounds activations for weights of type t.
func roundRows(t gguf.Type, x []float64, k int) []float64 {
	row := make([]float32, k)
	out := make([]float64, len(x))
	for r := 0; r+k <= len(x); r += k {
		for i, v := range x[r : r+k] {
			row[i] = float32(v)
		}
		backend.RoundForDot(t, row)
		for i, v := range row {
			out[r+i] = float64(v)
		}
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
