package cpu

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// builtin returns the cpu kernel of a built-in op.
func builtin(spec backend.KernelSpec) (backend.Kernel, error) {
	if spec.In > backend.F16 || spec.Out > backend.F16 {
		return nil, fmt.Errorf("cpu: %s: unknown activation dtype", spec.Name)
	}
	wt := spec.Weight
	if !(wt == gguf.TypeF32 || wt == gguf.TypeF16 || wt == gguf.TypeBF16 || wt.CanDequantize()) {
		return nil, fmt.Errorf("cpu: %s: unsupported weight dtype %v", spec.Name, wt)
	}
	in, out := newAct(spec.In), newAct(spec.Out)
	k := &kernel{name: spec.Name}
	// Row ops: an item costs about n (args[len-?]) operations.
	rowGrain := func(n int) func([]backend.Arg, backend.Grid) int {
		return func(a []backend.Arg, _ backend.Grid) int { return 1 + 8192/max(a[n].I, 1) }
	}
	switch spec.Name {
	case backend.OpEmbed:
		k.fn = func(c backend.CPUCall) { embed(c, wt, out) }
		k.grain = rowGrain(3)
	case backend.OpRMSNorm:
		k.fn = func(c backend.CPUCall) { rmsnorm(c, wt, in, out) }
		k.grain = rowGrain(3)
	case backend.OpMatMul:
		k.fn = func(c backend.CPUCall) { matmul(c, wt, in, out) }
		k.grain = func(a []backend.Arg, _ backend.Grid) int { return 1 + 16384/max(a[3].I*a[5].I, 1) }
	case backend.OpAddBias:
		k.fn = func(c backend.CPUCall) { addBias(c, wt, in, out) }
		k.grain = rowGrain(3)
	case backend.OpRope:
		k.fn = func(c backend.CPUCall) { rope(c, in, out) }
		k.grain = rowGrain(3)
	case backend.OpCopy:
		k.fn = func(c backend.CPUCall) { copyRows(c, in, out) }
		k.grain = rowGrain(2)
	case backend.OpAttention:
		k.fn = func(c backend.CPUCall) { attention(c, in, out) }
		k.grain = func(a []backend.Arg, _ backend.Grid) int { return 1 + 8192/max(a[6].I*(a[7].I+1), 1) }
	case backend.OpAdd:
		k.fn = func(c backend.CPUCall) { add(c, in, out) }
		k.grain = rowGrain(3)
	case backend.OpSwiGLU:
		k.fn = func(c backend.CPUCall) { swiglu(c, in, out) }
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
	ids := c.Args[2].I32()
	for t := c.Lo; t < c.Hi; t++ {
		out.store(c.Args[0], t*d, w.row(c.Args[1], int(ids[t]), *sc))
	}
}

// rmsnorm: out, x [rows,n], γ [n], n, eps.
func rmsnorm(c backend.CPUCall, wt gguf.Type, in, out act) {
	n, eps := c.Args[3].I, c.Args[4].F
	w, err := newWeights(wt, n)
	if err != nil {
		panic(err)
	}
	sc := getScratch(2 * n)
	defer putScratch(sc)
	g := w.row(c.Args[2], 0, (*sc)[n:])
	x := (*sc)[:n]
	for r := c.Lo; r < c.Hi; r++ {
		in.load(c.Args[1], r*n, x)
		var sum float64
		for _, v := range x {
			sum += float64(v * v)
		}
		scale := float32(1 / math.Sqrt(float64(float32(sum/float64(n))+eps)))
		for i, v := range x {
			x[i] = (v * scale) * g[i]
		}
		out.store(c.Args[0], r*n, x)
	}
}

// matmul: out [T,N], x [T,K], W [N,K], K, N, T. Item = output column n.
func matmul(c backend.CPUCall, wt gguf.Type, in, out act) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	w, err := newWeights(wt, K)
	if err != nil {
		panic(err)
	}
	var xs []float32
	if in.dt == backend.F32 {
		xs = in.view(c.Args[1], 0, T*K, nil)
	} else {
		xsc := getScratch(T * K)
		defer putScratch(xsc)
		xs = in.view(c.Args[1], 0, T*K, *xsc)
	}
	sc := getScratch(K)
	defer putScratch(sc)
	for n := c.Lo; n < c.Hi; n++ {
		row := w.row(c.Args[2], n, *sc)
		for t := range T {
			out.store1(c.Args[0], t*N+n, dot(row, xs[t*K:(t+1)*K]))
		}
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
	x := (*sc)[:n]
	for t := c.Lo; t < c.Hi; t++ {
		in.load(c.Args[1], t*n, x)
		for i := range x {
			x[i] += b[i]
		}
		out.store(c.Args[0], t*n, x)
	}
}

// copyRows: dst, src [rows,n], n.
func copyRows(c backend.CPUCall, in, out act) {
	n := c.Args[2].I
	sc := getScratch(n)
	defer putScratch(sc)
	for r := c.Lo; r < c.Hi; r++ {
		in.load(c.Args[1], r*n, *sc)
		out.store(c.Args[0], r*n, *sc)
	}
}

// add: out, a, b [rows,n], n.
func add(c backend.CPUCall, in, out act) {
	n := c.Args[3].I
	sc := getScratch(2 * n)
	defer putScratch(sc)
	a, b := (*sc)[:n], (*sc)[n:]
	for r := c.Lo; r < c.Hi; r++ {
		in.load(c.Args[1], r*n, a)
		in.load(c.Args[2], r*n, b)
		for i := range a {
			a[i] += b[i]
		}
		out.store(c.Args[0], r*n, a)
	}
}

// swiglu: out, gate, up [rows,n], n.
func swiglu(c backend.CPUCall, in, out act) {
	n := c.Args[3].I
	sc := getScratch(2 * n)
	defer putScratch(sc)
	g, u := (*sc)[:n], (*sc)[n:]
	for r := c.Lo; r < c.Hi; r++ {
		in.load(c.Args[1], r*n, g)
		in.load(c.Args[2], r*n, u)
		for i, v := range g {
			g[i] = v / (1 + float32(math.Exp(float64(-v)))) * u[i]
		}
		out.store(c.Args[0], r*n, g)
	}
}
