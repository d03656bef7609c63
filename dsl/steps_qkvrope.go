package dsl

import (
	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
)

func init() {
	RegisterStep("rmsnorm_qkv_rope", StepDef{
		Doc: "q_out = RoPE(q), K cache row pos+t = RoPE(k), V cache row pos+t = v, for q, k, v = W·(RMSNorm(x)·γ) (+ bias): " +
			"one dispatch per decode step (RoPE fused into the GEMV's store; q and k are fused away); a prefill runs the tiled GEMM, then the RoPE kernels",
		Fields: []Field{{Name: "input", Kind: FBufIn}, {Name: "gamma", Kind: FTensor}, {Name: "eps", Kind: FFloat},
			{Name: "wq", Kind: FTensor}, {Name: "wk", Kind: FTensor}, {Name: "wv", Kind: FTensor},
			{Name: "bq", Kind: FTensor, Optional: true}, {Name: "bk", Kind: FTensor, Optional: true}, {Name: "bv", Kind: FTensor, Optional: true},
			{Name: "q_out", Kind: FBufOut}, {Name: "k_cache", Kind: FCache}, {Name: "v_cache", Kind: FCache},
			{Name: "heads", Kind: FInt}, {Name: "kv_heads", Kind: FInt}, {Name: "head_dim", Kind: FInt},
			{Name: "rope_dim", Kind: FInt}, {Name: "base", Kind: FFloat}, {Name: "style", Kind: FString}},
		Build: buildQKVRope,
	})
}

// buildQKVRope is rmsnorm_qkv followed by rope_cache with the rotation
// fused into the GEMV (kernel.GemvRope) wherever the GEMV form runs: a
// decode step is one dispatch writing q_rope, k_rope (its cache row) and v
// (its cache row). Calls that run the tiled GEMM (prefill, plain) store q
// and k in staging buffers and rotate them with the rope_cache kernels,
// which the GEMV calls skip (Op.Skip) while their checkpoints q_rope and
// k_rope are still taken at the same place. With a K cache in another
// dtype than the activations nothing is fused (the GEMV cannot store
// k_rope in the cache's dtype): q and k are staged and rotated always.
func buildQKVRope(b *Build) error {
	in, err := readQKV(b)
	if err != nil {
		return err
	}
	x, eps, ws, nb := in.x, in.eps, in.ws, in.nb
	rf, err := ropeFieldsOf(b)
	if err != nil {
		return err
	}
	if ws[1].N != rf.heads*rf.hd || ws[2].N != rf.kvh*rf.hd {
		return b.Errorf("", "q is %d wide and k %d wide, want heads·head_dim = %d and kv_heads·head_dim = %d", ws[1].N, ws[2].N, rf.heads*rf.hd, rf.kvh*rf.hd)
	}
	qout, err := b.Out("q_out", ws[1].N, false)
	if err != nil {
		return err
	}
	kc, err := b.Cache("k_cache", ws[2].N)
	if err != nil {
		return err
	}
	vc, err := b.Cache("v_cache", ws[3].N)
	if err != nil {
		return err
	}
	qs, ks := b.Staged("q", ws[1].N), b.Staged("k", ws[2].N)
	vout, atPos := vc, true
	if vc.Elem != qout.Elem {
		vout, atPos = b.Staged("v", ws[3].N), false
	}
	// An unfused replay (Unfuse) rotates in the RoPE kernels always, so
	// the GEMV's stages (rmsnorm, gemv, bias) and the rotation's are
	// materialized one by one, q and k among them.
	fuse := kc.Elem == qout.Elem && !b.e.unfuse
	l, lt, err := b.GemvKernels("rmsnorm_qkv_rope", func(tiled bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue) {
		rot := fuse && !tiled
		g := &kernel.Gemv{Round: b.Round(), Types: []gguf.Type{ws[1].Type, ws[2].Type, ws[3].Type}, K: x.Width,
			N: []int{ws[1].N, ws[2].N, ws[3].N}, In: x.Elem, Out: qout.Elem, AtPos: []bool{false, rot, atPos}}
		if rot {
			g.Rope = &kernel.GemvRope{NeoX: rf.neox, Dim: rf.rd, HeadDim: rf.hd, Base: rf.base, Plain: b.Plain()}
		}
		var epis []kernel.Epilogue
		if nb == 3 {
			epis = append(epis, &kernel.Bias{Types: []gguf.Type{ws[4].Type, ws[5].Type, ws[6].Type}})
		}
		return []kernel.Prologue{&kernel.RMSNorm{Gamma: ws[0].Type, Eps: eps}}, g, epis
	})
	if err != nil {
		return err
	}
	// rotated says the call runs the GEMV form, which stores q_rope and
	// k_rope itself.
	rotated := func(r Run) bool { return fuse && (lt == nil || r.T < PrefillTokens) }
	bufs := map[string]backend.Buffer{}
	for i, name := range []string{"gamma", "w0", "w1", "w2", "b0", "b1", "b2"} {
		if ws[i] == nil {
			continue
		}
		if bufs[name], err = b.Weight(ws[i]); err != nil {
			return err
		}
	}
	cps := []Checkpoint{{Kind: "v", Layer: b.Layer, Buf: vout, Cache: vout == vc}}
	var stages []StageDef
	outputs, away := []int{2}, []string{"q", "k"}
	if b.e.unfuse {
		outputs, away = nil, nil
		// Checkpoints[i] is output i of the GEMV (Op.Checkpoints).
		cps = append([]Checkpoint{{Kind: "q", Layer: b.Layer, Buf: qs}, {Kind: "k", Layer: b.Layer, Buf: ks}}, cps...)
		if stages, err = qkvStages(b, nb == 3); err != nil {
			return err
		}
	}
	if err := b.Emit(&Op{L: l, Prefill: lt, Stages: stages, Bind: func(r *Run) kernel.Binding {
		bd := kernel.Binding{"x": x.At(0), "y0": qs.At(0), "y1": ks.At(0), "y2": vout.At(0)}
		if rotated(*r) {
			bd["y0"], bd["y1"] = qout.At(0), kc.At(0)
		}
		for n, buf := range bufs {
			bd[n] = backend.Buf(buf)
		}
		return bd
	}, Checkpoints: cps, Outputs: outputs, FusedAway: away}); err != nil {
		return err
	}
	if vout != vc {
		if err := b.StoreCache(vout, vc); err != nil {
			return err
		}
	}
	return ropeOps(b, rf, qs, ks, qout, kc, rotated)
}
