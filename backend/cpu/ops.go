package cpu

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// builtin returns the cpu kernel of a built-in op under the spec's
// numerics profile: plain (plain.go) or ggml-cpu (ggml's arithmetic,
// package ggmlnum). Ops whose arithmetic is exact (embed, copy, add,
// add_bias) and OpMatMul are the same under both.
func builtin(spec backend.KernelSpec) (backend.Kernel, error) {
	if spec.In > backend.F16 || spec.Out > backend.F16 || spec.KV > backend.F16 {
		return nil, fmt.Errorf("cpu: %s: unknown activation dtype", spec.Name)
	}
	prof := spec.Numerics
	if prof == "" {
		prof = backend.Plain
	}
	if prof != backend.Plain && prof != backend.GGMLCPU {
		return nil, fmt.Errorf("cpu: %s: unknown numerics profile %q (cpu implements %s and %s)", spec.Name, prof, backend.Plain, backend.GGMLCPU)
	}
	ggml := prof == backend.GGMLCPU
	if spec.Name == backend.OpMatMulQ && !ggml {
		return nil, fmt.Errorf("cpu: %s is not part of the %s profile: rounding activations for the weight's dot product is %s's (use %s)",
			spec.Name, backend.Plain, backend.GGMLCPU, backend.OpMatMul)
	}
	wt := spec.Weight
	if !(wt == gguf.TypeF32 || wt == gguf.TypeF16 || wt == gguf.TypeBF16 || wt.CanDequantize()) {
		return nil, fmt.Errorf("cpu: %s: unsupported weight dtype %v", spec.Name, wt)
	}
	in, out := newAct(spec.In), newAct(spec.Out)
	k := &kernel{name: spec.Name}
	// Row ops: an item costs about n = args[i] operations; a task should do
	// enough work (tens of µs) to pay for waking a goroutine.
	rowGrain := func(n int) func([]backend.Arg, backend.Grid) int {
		return func(a []backend.Arg, _ backend.Grid) int { return 1 + 32768/max(a[n].I, 1) }
	}
	switch spec.Name {
	case backend.OpEmbed:
		k.sig = "bbbi"
		k.fn = func(c backend.CPUCall) { embed(c, wt, out) }
		k.grain = rowGrain(3)
	case backend.OpRMSNorm:
		k.sig = "bbbif"
		k.fn = func(c backend.CPUCall) { rmsnormPlain(c, wt, in, out) }
		if ggml {
			k.fn = func(c backend.CPUCall) { rmsnorm(c, wt, in, out) }
		}
		k.grain = rowGrain(3)
	case backend.OpMatMul, backend.OpMatMulQ:
		k.sig = "bbbiii"
		q := spec.Name == backend.OpMatMulQ
		k.fn = func(c backend.CPUCall) { matmul(c, wt, in, out, q) }
		if q {
			// ggml's own kernels where they are reproduced; which one can
			// depend on N, read per dispatch.
			p8, i8, ok8 := ggmlMatMulRows(wt, 8, in, out)
			p1, i1, ok1 := ggmlMatMulRows(wt, 1, in, out)
			k.prep = func(c backend.CPUCall, p *prepared) {
				prep, items, ok := p1, i1, ok1
				if c.Args[4].I%8 == 0 {
					prep, items, ok = p8, i8, ok8
				}
				if !ok {
					p.items = nil
					return
				}
				prep(c, p)
				p.items = items
			}
			k.fnp = func(c backend.CPUCall, p *prepared) {
				if p.items == nil {
					matmul(c, wt, in, out, true)
					return
				}
				p.items(c, p)
			}
		}
		k.grain = func(a []backend.Arg, _ backend.Grid) int { return 1 + 65536/max(a[3].I*a[5].I, 1) }
	case backend.OpAddBias:
		k.sig = "bbbi"
		k.fn = func(c backend.CPUCall) { addBias(c, wt, in, out) }
		k.grain = rowGrain(3)
	case backend.OpRope:
		k.sig = "bbiiibfi"
		k.fn = func(c backend.CPUCall) { ropePlain(c, in, out) }
		if ggml {
			k.fn = func(c backend.CPUCall) { rope(c, in, out) }
		}
		k.grain = rowGrain(3)
	case backend.OpCopy:
		k.sig = "bbib"
		k.fn = func(c backend.CPUCall) { copyRows(c, in, out) }
		k.grain = rowGrain(2)
	case backend.OpAttention:
		k.sig = "bbbbiiibf"
		kv := newAct(spec.KV)
		k.fn = func(c backend.CPUCall) { attentionPlain(c, in, kv, out) }
		if fa := spec.Flash; fa.On && !ggml {
			return nil, fmt.Errorf("cpu: %s: flash attention is ggml's kernel, defined under numerics %s only (asked for %s)", spec.Name, backend.GGMLCPU, prof)
		}
		if ggml {
			// ggml's f16 matmuls round q and the probabilities to f16; the
			// plain contract never rounds inside an op.
			ggmlF16 := spec.KV == backend.F16
			k.fn = func(c backend.CPUCall) { attention(c, in, kv, out, ggmlF16) }
			if fa := spec.Flash; fa.On {
				if fa.Batch < 0 || fa.Threads < 0 {
					return nil, fmt.Errorf("cpu: %s: flash attention with batch %d, threads %d", spec.Name, fa.Batch, fa.Threads)
				}
				k.fn = func(c backend.CPUCall) { flashAttention(c, in, kv, out, fa) }
			}
		}
		k.grain = func(a []backend.Arg, _ backend.Grid) int { return 1 + 32768/max(a[6].I*(a[7].Pos()+1), 1) }
	case backend.OpAdd:
		k.sig = "bbbi"
		k.fn = func(c backend.CPUCall) { add(c, in, out) }
		k.grain = rowGrain(3)
	case backend.OpSwiGLU:
		k.sig = "bbbi"
		k.fn = func(c backend.CPUCall) { swigluPlain(c, in, out) }
		if ggml {
			k.fn = func(c backend.CPUCall) { swiglu(c, in, out) }
		}
		k.grain = rowGrain(3)
	default:
		return nil, fmt.Errorf("cpu: unknown built-in op %q (have %v)", spec.Name, backend.Ops())
	}
	return k, nil
}

// embed: out [T,d], W [vocab,d], ids int32 [T], d.
func embed(c backend.CPUCall, wt gguf.Type, out act) {
	d := c.Args[3].I
	w, err := newWeights(wt, d)
	if err != nil {
		panic(err)
	}
	sc := getScratch(d)
	defer putScratch(sc)
	ids, o := c.Args[2].I32(), out.bind(c.Args[0])
	for t := c.Lo; t < c.Hi; t++ {
		o.store(t*d, w.row(c.Args[1], int(ids[t]), *sc))
	}
}

// rmsnorm (ggml-cpu): out, x [rows,n], γ [n], n, eps.
func rmsnorm(c backend.CPUCall, wt gguf.Type, in, out act) {
	n, eps := c.Args[3].I, c.Args[4].F
	w, err := newWeights(wt, n)
	if err != nil {
		panic(err)
	}
	sc := getScratch(2 * n)
	defer putScratch(sc)
	g := w.row(c.Args[2], 0, (*sc)[n:])
	x, xt, o := (*sc)[:n], in.bind(c.Args[1]), out.bind(c.Args[0])
	for r := c.Lo; r < c.Hi; r++ {
		xt.load(r*n, x)
		var sum float64
		for _, v := range x {
			sum += float64(v * v)
		}
		// As ggml: mean rounded to float32, sqrtf, then 1.0f/ in float32.
		scale := 1 / float32(math.Sqrt(float64(float32(sum/float64(n))+eps)))
		for i, v := range x {
			x[i] = (v * scale) * g[i]
		}
		o.store(r*n, x)
	}
}

// addBias: out, x [T,n], b [n], n.
func addBias(c backend.CPUCall, wt gguf.Type, in, out act) {
	n := c.Args[3].I
	w, err := newWeights(wt, n)
	if err != nil {
		panic(err)
	}
	sc := getScratch(2 * n)
	defer putScratch(sc)
	b := w.row(c.Args[2], 0, (*sc)[n:])
	x, xt, o := (*sc)[:n], in.bind(c.Args[1]), out.bind(c.Args[0])
	for t := c.Lo; t < c.Hi; t++ {
		xt.load(t*n, x)
		for i := range x {
			x[i] += b[i]
		}
		o.store(t*n, x)
	}
}

// copyRows: dst [p+rows,n], src [rows,n], n, p (Pos).
func copyRows(c backend.CPUCall, in, out act) {
	n, p := c.Args[2].I, c.Args[3].Pos()
	sc := getScratch(n)
	defer putScratch(sc)
	src, dst := in.bind(c.Args[1]), out.bind(c.Args[0])
	for r := c.Lo; r < c.Hi; r++ {
		src.load(r*n, *sc)
		dst.store((p+r)*n, *sc)
	}
}

// add: out, a, b [rows,n], n.
func add(c backend.CPUCall, in, out act) {
	n := c.Args[3].I
	sc := getScratch(2 * n)
	defer putScratch(sc)
	a, b := (*sc)[:n], (*sc)[n:]
	at, bt, o := in.bind(c.Args[1]), in.bind(c.Args[2]), out.bind(c.Args[0])
	for r := c.Lo; r < c.Hi; r++ {
		at.load(r*n, a)
		bt.load(r*n, b)
		for i := range a {
			a[i] += b[i]
		}
		o.store(r*n, a)
	}
}

// swiglu (ggml-cpu): out, gate, up [rows,n], n.
func swiglu(c backend.CPUCall, in, out act) {
	n := c.Args[3].I
	sc := getScratch(2 * n)
	defer putScratch(sc)
	g, u := (*sc)[:n], (*sc)[n:]
	gt, ut, o := in.bind(c.Args[1]), in.bind(c.Args[2]), out.bind(c.Args[0])
	for r := c.Lo; r < c.Hi; r++ {
		gt.load(r*n, g)
		ut.load(r*n, u)
		ggmlnum.SwiGLU(g, g, u) // ggml's vector SiLU and exp

		o.store(r*n, g)
	}
}
