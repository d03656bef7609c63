package dsl

import (
	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

func init() {
	RegisterStep("embed", StepDef{
		Doc:    "out[t] = table row tokens[t] (embedding gather fused into the copy)",
		Fields: []Field{{Name: "table", Kind: FTensor}, {Name: "out", Kind: FBufOut}},
		Build:  buildEmbed,
	})
	RegisterStep("rmsnorm_qkv", StepDef{
		Doc: "q, k, v = W·(RMSNorm(x)·γ) (+ bias); v is written straight into the V cache",
		Fields: []Field{{Name: "input", Kind: FBufIn}, {Name: "gamma", Kind: FTensor}, {Name: "eps", Kind: FFloat},
			{Name: "wq", Kind: FTensor}, {Name: "wk", Kind: FTensor}, {Name: "wv", Kind: FTensor},
			{Name: "bq", Kind: FTensor, Optional: true}, {Name: "bk", Kind: FTensor, Optional: true}, {Name: "bv", Kind: FTensor, Optional: true},
			{Name: "q", Kind: FBufOut}, {Name: "k", Kind: FBufOut}, {Name: "v_cache", Kind: FCache}},
		Build: buildQKV,
	})
	RegisterStep("rope_cache", StepDef{
		Doc: "q_out = RoPE(q); K cache row pos+t = RoPE(k) (optional per-head RMSNorm first)",
		Fields: []Field{{Name: "q", Kind: FBufIn}, {Name: "k", Kind: FBufIn}, {Name: "q_out", Kind: FBufOut}, {Name: "k_cache", Kind: FCache},
			{Name: "heads", Kind: FInt}, {Name: "kv_heads", Kind: FInt}, {Name: "head_dim", Kind: FInt},
			{Name: "rope_dim", Kind: FInt}, {Name: "base", Kind: FFloat}, {Name: "style", Kind: FString},
			{Name: "q_norm", Kind: FTensor, Optional: true}, {Name: "k_norm", Kind: FTensor, Optional: true}, {Name: "eps", Kind: FFloat, Optional: true}},
		Build: buildRope,
	})
	RegisterStep("attention", StepDef{
		Doc: "causal GQA attention over the compact caches, single pass with an online softmax",
		Fields: []Field{{Name: "q", Kind: FBufIn}, {Name: "k_cache", Kind: FCache}, {Name: "v_cache", Kind: FCache}, {Name: "out", Kind: FBufOut},
			{Name: "heads", Kind: FInt}, {Name: "kv_heads", Kind: FInt}, {Name: "head_dim", Kind: FInt}},
		Build: buildAttention,
	})
	RegisterStep("gemv_residual", StepDef{
		Doc: "out = W·input (+ bias) + residual (GEMV with beta = 1)",
		Fields: []Field{{Name: "input", Kind: FBufIn}, {Name: "w", Kind: FTensor}, {Name: "bias", Kind: FTensor, Optional: true},
			{Name: "residual", Kind: FBufIn}, {Name: "out", Kind: FBufOut}, {Name: "checkpoint", Kind: FCheckpoint, Optional: true}},
		Build: buildGemvResidual,
	})
	RegisterStep("rmsnorm_swiglu", StepDef{
		Doc: "out = silu(Wgate·n)·(Wup·n), n = RMSNorm(input)·γ, in one pass",
		Fields: []Field{{Name: "input", Kind: FBufIn}, {Name: "gamma", Kind: FTensor}, {Name: "eps", Kind: FFloat},
			{Name: "gate", Kind: FTensor}, {Name: "up", Kind: FTensor}, {Name: "out", Kind: FBufOut}},
		Build: buildSwiGLU,
	})
	RegisterStep("rmsnorm_gemv", StepDef{
		Doc: "out = W·(RMSNorm(input)·γ): the final norm fused into the LM head",
		Fields: []Field{{Name: "input", Kind: FBufIn}, {Name: "gamma", Kind: FTensor}, {Name: "eps", Kind: FFloat},
			{Name: "w", Kind: FTensor}, {Name: "out", Kind: FBufOut}, {Name: "checkpoint", Kind: FCheckpoint, Optional: true}},
		Build: buildNormGemv,
	})
}

// Weights resolves several tensor fields at once (nil for absent optional
// ones).
func (b *Build) Weights(fields ...string) ([]*model.Weight, error) {
	out := make([]*model.Weight, len(fields))
	for i, f := range fields {
		w, err := b.Tensor(f)
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// checkK verifies a weight's K (decided by the architecture) against the
// width of the vector it multiplies.
func (b *Build) checkK(field string, w *model.Weight, k int) error {
	if w.K != k {
		return b.Errorf(field, "tensor %s has K=%d, input is %d wide", w.Name, w.K, k)
	}
	return nil
}

func buildEmbed(b *Build) error {
	w, err := b.Tensor("table")
	if err != nil {
		return err
	}
	out, err := b.Out("out", w.K, false)
	if err != nil {
		return err
	}
	l, err := b.Kernel("embed", []kernel.Prologue{&kernel.Embed{Table: w.Type, K: w.K}},
		&kernel.Copy{N: w.K, Segs: 1, DstStride: w.K, Out: out.Elem, Gathered: true}, nil)
	if err != nil {
		return err
	}
	tb, err := b.Weight(w)
	if err != nil {
		return err
	}
	e := b.e
	return b.Emit(&Op{L: l, Bind: func(r *Run) kernel.Binding {
		return kernel.Binding{"table": backend.Buf(tb), "ids": backend.BufAt(e.io, 4*kernel.VarsHeader), "y": out.At(0)}
	}, Checkpoints: []Checkpoint{{Kind: "embd", Layer: b.Layer, Buf: out}}})
}

// qkvInputs are the fields rmsnorm_qkv and rmsnorm_qkv_rope share: the
// input, eps, the weights gamma, wq, wk, wv, bq, bk, bv (ws, biases nil
// when absent) and how many biases are given (0 or 3).
type qkvInputs struct {
	x   *Act
	eps float32
	ws  []*model.Weight
	nb  int
}

// readQKV reads and checks the fields of a QKV step.
func readQKV(b *Build) (*qkvInputs, error) {
	x, err := b.In("input")
	if err != nil {
		return nil, err
	}
	eps, err := b.Float("eps")
	if err != nil {
		return nil, err
	}
	ws, err := b.Weights("gamma", "wq", "wk", "wv", "bq", "bk", "bv")
	if err != nil {
		return nil, err
	}
	for i, f := range []string{"wq", "wk", "wv"} {
		if err := b.checkK(f, ws[i+1], x.Width); err != nil {
			return nil, err
		}
	}
	if ws[0].K != x.Width {
		return nil, b.Errorf("gamma", "tensor %s has %d elements, input is %d wide", ws[0].Name, ws[0].K, x.Width)
	}
	nb := 0
	for _, w := range ws[4:] {
		if w != nil {
			nb++
		}
	}
	if nb != 0 && nb != 3 {
		return nil, b.Errorf("bq", "biases must be given for all of q, k and v or none")
	}
	return &qkvInputs{x: x, eps: eps, ws: ws, nb: nb}, nil
}

func buildQKV(b *Build) error {
	in, err := readQKV(b)
	if err != nil {
		return err
	}
	x, eps, ws, nb := in.x, in.eps, in.ws, in.nb
	q, err := b.Out("q", ws[1].N, false)
	if err != nil {
		return err
	}
	k, err := b.Out("k", ws[2].N, false)
	if err != nil {
		return err
	}
	vc, err := b.Cache("v_cache", ws[3].N)
	if err != nil {
		return err
	}
	// v goes straight into its cache row (the GEMV reads the position from
	// the vars buffer: AtPos), unless the cache is stored in another dtype
	// than the activations: then through a staging buffer (the checkpoint
	// in activation storage, as the other paths have it) and a copy.
	vout, atPos := vc, true
	if vc.Elem != q.Elem {
		vout, atPos = b.Staged("v", ws[3].N), false
	}
	l, lt, err := b.GemvKernels("rmsnorm_qkv", func(bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue) {
		g := &kernel.Gemv{Round: b.Round(), Types: []gguf.Type{ws[1].Type, ws[2].Type, ws[3].Type}, K: x.Width,
			N: []int{ws[1].N, ws[2].N, ws[3].N}, In: x.Elem, Out: q.Elem, AtPos: []bool{false, false, atPos}}
		var epis []kernel.Epilogue
		if nb == 3 {
			epis = append(epis, &kernel.Bias{Types: []gguf.Type{ws[4].Type, ws[5].Type, ws[6].Type}})
		}
		return []kernel.Prologue{&kernel.RMSNorm{Gamma: ws[0].Type, Eps: eps}}, g, epis
	})
	if err != nil {
		return err
	}
	bufs := map[string]backend.Buffer{}
	for i, name := range []string{"gamma", "w0", "w1", "w2", "b0", "b1", "b2"} {
		if ws[i] == nil {
			continue
		}
		if bufs[name], err = b.Weight(ws[i]); err != nil {
			return err
		}
	}
	stages, err := qkvStages(b, nb == 3)
	if err != nil {
		return err
	}
	if err := b.Emit(&Op{L: l, Prefill: lt, Stages: stages, Bind: func(r *Run) kernel.Binding {
		bd := kernel.Binding{"x": x.At(0), "y0": q.At(0), "y1": k.At(0), "y2": vout.At(0)}
		for n, buf := range bufs {
			bd[n] = backend.Buf(buf)
		}
		return bd
	}, Checkpoints: []Checkpoint{{Kind: "q", Layer: b.Layer, Buf: q}, {Kind: "k", Layer: b.Layer, Buf: k},
		{Kind: "v", Layer: b.Layer, Buf: vout, Cache: vout == vc}}}); err != nil {
		return err
	}
	if vout != vc {
		return b.StoreCache(vout, vc)
	}
	return nil
}

// Buffers wraps weights as backend buffers (nil stays nil).
func (b *Build) Buffers(ws ...*model.Weight) ([]backend.Buffer, error) {
	out := make([]backend.Buffer, len(ws))
	for i, w := range ws {
		if w == nil {
			continue
		}
		var err error
		if out[i], err = b.Weight(w); err != nil {
			return nil, err
		}
	}
	return out, nil
}
