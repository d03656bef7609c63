package dsl

import (
	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

func buildRope(b *Build) error {
	q, err := b.In("q")
	if err != nil {
		return err
	}
	k, err := b.In("k")
	if err != nil {
		return err
	}
	rf, err := ropeFieldsOf(b)
	if err != nil {
		return err
	}
	if q.Width != rf.heads*rf.hd || k.Width != rf.kvh*rf.hd {
		return b.Errorf("", "q is %d wide and k %d wide, want heads·head_dim = %d and kv_heads·head_dim = %d", q.Width, k.Width, rf.heads*rf.hd, rf.kvh*rf.hd)
	}
	qout, err := b.Out("q_out", q.Width, false)
	if err != nil {
		return err
	}
	kc, err := b.Cache("k_cache", k.Width)
	if err != nil {
		return err
	}
	return ropeOps(b, rf, q, k, qout, kc, nil)
}

// ropeFields are the RoPE fields of a step (rope_cache, rmsnorm_qkv_rope).
type ropeFields struct {
	heads, kvh, hd, rd int
	base               float32
	neox               bool
	norms              []*model.Weight // q_norm, k_norm (nil when absent)
	eps                float32
}

// ropeFieldsOf reads and checks the RoPE fields of the step.
func ropeFieldsOf(b *Build) (*ropeFields, error) {
	ns, err := b.Ints("heads", "kv_heads", "head_dim", "rope_dim")
	if err != nil {
		return nil, err
	}
	rf := &ropeFields{heads: ns[0], kvh: ns[1], hd: ns[2], rd: ns[3]}
	if rf.base, err = b.Float("base"); err != nil {
		return nil, err
	}
	if rf.heads <= 0 || rf.kvh <= 0 || rf.hd <= 0 {
		return nil, b.Errorf("", "heads %d, kv_heads %d and head_dim %d must be positive", rf.heads, rf.kvh, rf.hd)
	}
	if rf.rd <= 0 || rf.rd > rf.hd || rf.rd%2 != 0 {
		return nil, b.Errorf("rope_dim", "rope_dim %d must be even and in (0, %d]", rf.rd, rf.hd)
	}
	style, err := b.String("style")
	if err != nil {
		return nil, err
	}
	switch style {
	case "neox":
		rf.neox = true
	case "normal":
	default:
		return nil, b.Errorf("style", "want \"neox\" or \"normal\", got %q", style)
	}
	if !b.declares("q_norm") {
		return rf, nil
	}
	if rf.norms, err = b.Weights("q_norm", "k_norm"); err != nil {
		return nil, err
	}
	if (rf.norms[0] == nil) != (rf.norms[1] == nil) {
		return nil, b.Errorf("q_norm", "q_norm and k_norm go together")
	}
	if rf.norms[0] != nil {
		if !b.Has("eps") {
			return nil, b.Errorf("eps", "missing float field (needed by q_norm/k_norm)")
		}
		if rf.eps, err = b.Float("eps"); err != nil {
			return nil, err
		}
	}
	return rf, nil
}

// ropeOps emits the RoPE of q into qout and of k into the K cache kc at
// the call's position (through a staging buffer and a copy when the cache
// has another dtype), each after its per-head RMSNorm when the fields
// give one. skip, when set, skips both dispatches for the calls it names
// (their rotation fused into an earlier kernel); their checkpoints are
// still taken at their place.
func ropeOps(b *Build, rf *ropeFields, q, k, qout, kc *Act, skip func(Run) bool) error {
	// k_rope goes straight into its cache row, unless the cache is stored
	// in another dtype than the activations: then through a staging buffer
	// (see buildQKV).
	kout := kc
	if kc.Elem != qout.Elem {
		kout = b.Staged("k_rope", k.Width)
	}
	mk := func(name string, in *Act, segs int, norm *model.Weight, out *Act, offset bool) (*Loaded, backend.Buffer, error) {
		var pros []kernel.Prologue
		var gb backend.Buffer
		var err error
		if norm != nil {
			if norm.K != rf.hd {
				return nil, nil, b.Errorf(name+"_norm", "tensor %s has %d elements, want head_dim %d", norm.Name, norm.K, rf.hd)
			}
			pros = append(pros, &kernel.RMSNorm{Gamma: norm.Type, Eps: rf.eps})
			if gb, err = b.Weight(norm); err != nil {
				return nil, nil, err
			}
		}
		pros = append(pros, &kernel.Rope{NeoX: rf.neox, Dim: rf.rd, Base: rf.base, Plain: b.Plain()})
		l, err := b.Kernel("rope_"+name, pros, &kernel.Copy{N: rf.hd, Segs: segs, SrcStride: in.Width,
			DstStride: in.Width, In: in.Elem, Out: out.Elem, Offset: offset}, nil)
		return l, gb, err
	}
	var qn, kn *model.Weight
	if rf.norms != nil {
		qn, kn = rf.norms[0], rf.norms[1]
	}
	lq, gq, err := mk("q", q, rf.heads, qn, qout, false)
	if err != nil {
		return err
	}
	lk, gk, err := mk("k", k, rf.kvh, kn, kout, kout == kc)
	if err != nil {
		return err
	}
	var qst, kst []StageDef
	if qn != nil {
		if qst, err = ropeStages(b, "q"); err != nil {
			return err
		}
		if kst, err = ropeStages(b, "k"); err != nil {
			return err
		}
	}
	withGamma := func(bd kernel.Binding, g backend.Buffer) kernel.Binding {
		if g != nil {
			bd["gamma"] = backend.Buf(g)
		}
		return bd
	}
	if err := b.Emit(&Op{L: lq, Skip: skip, Stages: qst, Bind: func(r *Run) kernel.Binding {
		return withGamma(kernel.Binding{"x": q.At(0), "y": qout.At(0)}, gq)
	}, Checkpoints: []Checkpoint{{Kind: "q_rope", Layer: b.Layer, Buf: qout}}}); err != nil {
		return err
	}
	if err := b.Emit(&Op{L: lk, Skip: skip, Stages: kst, Bind: func(r *Run) kernel.Binding {
		return withGamma(kernel.Binding{"x": k.At(0), "y": kout.At(0)}, gk)
	}, Checkpoints: []Checkpoint{{Kind: "k_rope", Layer: b.Layer, Buf: kout, Cache: kout == kc}}}); err != nil {
		return err
	}
	if kout != kc {
		return b.StoreCache(kout, kc)
	}
	return nil
}

func buildAttention(b *Build) error {
	q, err := b.In("q")
	if err != nil {
		return err
	}
	ns, err := b.Ints("heads", "kv_heads", "head_dim")
	if err != nil {
		return err
	}
	heads, kvh, hd := ns[0], ns[1], ns[2]
	if q.Width != heads*hd {
		return b.Errorf("q", "q is %d wide, want heads·head_dim = %d", q.Width, heads*hd)
	}
	kc, err := b.Cache("k_cache", kvh*hd)
	if err != nil {
		return err
	}
	vc, err := b.Cache("v_cache", kvh*hd)
	if err != nil {
		return err
	}
	out, err := b.Out("out", heads*hd, false)
	if err != nil {
		return err
	}
	l, err := b.Kernel("attention", nil, &kernel.Attention{Heads: heads, KVHeads: kvh, HeadDim: hd,
		In: q.Elem, Cache: kc.Elem, Out: out.Elem}, nil)
	if err != nil {
		return err
	}
	return b.Emit(&Op{L: l, Bind: func(r *Run) kernel.Binding {
		return kernel.Binding{"q": q.At(0), "k_cache": kc.At(0), "v_cache": vc.At(0), "y": out.At(0)}
	}, Checkpoints: []Checkpoint{{Kind: "attn_out", Layer: b.Layer, Buf: out}}})
}

// CheckpointsOf returns the checkpoint named by the step's optional
// "checkpoint" field for out, at the current layer (Emit checks it against
// the checkpoint graph); "logits" also makes out the logits that Forward
// returns.
func (b *Build) CheckpointsOf(out *Act) ([]Checkpoint, error) {
	if !b.Has("checkpoint") {
		return nil, nil
	}
	kind, err := b.String("checkpoint")
	if err != nil {
		return nil, err
	}
	if kind == "logits" {
		b.e.logits = out
	}
	return []Checkpoint{{Kind: kind, Layer: b.Layer, Buf: out}}, nil
}

func buildGemvResidual(b *Build) error {
	x, err := b.In("input")
	if err != nil {
		return err
	}
	res, err := b.In("residual")
	if err != nil {
		return err
	}
	if b.step.Fields["input"] == b.step.Fields["out"] {
		return b.Errorf("out", "the output must not overwrite the input %q", x.Name)
	}
	ws, err := b.Weights("w", "bias")
	if err != nil {
		return err
	}
	w := ws[0]
	if err := b.checkK("w", w, x.Width); err != nil {
		return err
	}
	if res.Width != w.N {
		return b.Errorf("residual", "residual is %d wide, W has N=%d", res.Width, w.N)
	}
	out, err := b.Out("out", w.N, false)
	if err != nil {
		return err
	}
	l, lt, err := b.GemvKernels("gemv_residual", func(bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue) {
		var epis []kernel.Epilogue
		if ws[1] != nil {
			epis = append(epis, &kernel.Bias{Types: []gguf.Type{ws[1].Type}})
		}
		epis = append(epis, &kernel.Residual{Alpha: 1, Beta: 1, Elem: res.Elem})
		return nil, &kernel.Gemv{Round: b.Round(), Types: []gguf.Type{w.Type}, K: w.K, N: []int{w.N}, In: x.Elem, Out: out.Elem}, epis
	})
	if err != nil {
		return err
	}
	wb, err := b.Weight(w)
	if err != nil {
		return err
	}
	var bb backend.Buffer
	if ws[1] != nil {
		if bb, err = b.Weight(ws[1]); err != nil {
			return err
		}
	}
	cps, err := b.CheckpointsOf(out)
	if err != nil {
		return err
	}
	stages, err := residualStages(b, cps, ws[1] != nil)
	if err != nil {
		return err
	}
	return b.Emit(&Op{L: l, Prefill: lt, Stages: stages, Bind: func(r *Run) kernel.Binding {
		bd := kernel.Binding{"x": x.At(0), "w0": backend.Buf(wb), "y0": out.At(0), "residual": res.At(0)}
		if bb != nil {
			bd["b0"] = backend.Buf(bb)
		}
		return bd
	}, Checkpoints: cps})
}

func buildSwiGLU(b *Build) error {
	x, err := b.In("input")
	if err != nil {
		return err
	}
	eps, err := b.Float("eps")
	if err != nil {
		return err
	}
	ws, err := b.Weights("gamma", "gate", "up")
	if err != nil {
		return err
	}
	if ws[0].K != x.Width {
		return b.Errorf("gamma", "tensor %s has %d elements, input is %d wide", ws[0].Name, ws[0].K, x.Width)
	}
	for i, f := range []string{"gate", "up"} {
		if err := b.checkK(f, ws[i+1], x.Width); err != nil {
			return err
		}
	}
	if ws[1].N != ws[2].N {
		return b.Errorf("up", "gate has N=%d, up has N=%d", ws[1].N, ws[2].N)
	}
	out, err := b.Out("out", ws[1].N, false)
	if err != nil {
		return err
	}
	l, lt, err := b.GemvKernels("rmsnorm_swiglu", func(bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue) {
		return []kernel.Prologue{&kernel.RMSNorm{Gamma: ws[0].Type, Eps: eps}},
			&kernel.Gemv{Round: b.Round(), Types: []gguf.Type{ws[1].Type, ws[2].Type}, K: x.Width, N: []int{ws[1].N}, In: x.Elem, Out: out.Elem, Pair: true},
			[]kernel.Epilogue{kernel.SwiGLU{}}
	})
	if err != nil {
		return err
	}
	bufs := make([]backend.Buffer, 3)
	for i := range ws {
		if bufs[i], err = b.Weight(ws[i]); err != nil {
			return err
		}
	}
	stages, err := swigluStages(b)
	if err != nil {
		return err
	}
	return b.Emit(&Op{L: l, Prefill: lt, Stages: stages, Bind: func(r *Run) kernel.Binding {
		return kernel.Binding{"x": x.At(0), "gamma": backend.Buf(bufs[0]), "w0": backend.Buf(bufs[1]),
			"w1": backend.Buf(bufs[2]), "y0": out.At(0)}
	}, Checkpoints: []Checkpoint{{Kind: "ffn_act", Layer: b.Layer, Buf: out}}})
}

func buildNormGemv(b *Build) error {
	x, err := b.In("input")
	if err != nil {
		return err
	}
	eps, err := b.Float("eps")
	if err != nil {
		return err
	}
	ws, err := b.Weights("gamma", "w")
	if err != nil {
		return err
	}
	if ws[0].K != x.Width {
		return b.Errorf("gamma", "tensor %s has %d elements, input is %d wide", ws[0].Name, ws[0].K, x.Width)
	}
	if err := b.checkK("w", ws[1], x.Width); err != nil {
		return err
	}
	logits := false
	if b.Has("checkpoint") {
		kind, err := b.String("checkpoint")
		if err != nil {
			return err
		}
		logits = kind == "logits"
	}
	out, err := b.Out("out", ws[1].N, logits)
	if err != nil {
		return err
	}
	l, lt, err := b.GemvKernels("rmsnorm_gemv", func(bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue) {
		return []kernel.Prologue{&kernel.RMSNorm{Gamma: ws[0].Type, Eps: eps}},
			&kernel.Gemv{Round: b.Round(), Types: []gguf.Type{ws[1].Type}, K: x.Width, N: []int{ws[1].N}, In: x.Elem, Out: out.Elem}, nil
	})
	if err != nil {
		return err
	}
	gb, err := b.Weight(ws[0])
	if err != nil {
		return err
	}
	wb, err := b.Weight(ws[1])
	if err != nil {
		return err
	}
	cps, err := b.CheckpointsOf(out)
	if err != nil {
		return err
	}
	stages, err := normGemvStages(b, cps)
	if err != nil {
		return err
	}
	return b.Emit(&Op{L: l, Prefill: lt, LastRow: true, Stages: stages, Bind: func(r *Run) kernel.Binding {
		return kernel.Binding{"x": x.At(r.Row0), "gamma": backend.Buf(gb), "w0": backend.Buf(wb), "y0": out.At(0)}
	}, Checkpoints: cps})
}
