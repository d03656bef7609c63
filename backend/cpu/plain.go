package cpu

import (
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The plain profile's kernels (backend/numerics.go): float32 arithmetic in
// a fixed order, transcendentals from package math evaluated in float64
// and rounded once to float32 (expf, sinf, cosf, powf, sqrtf as correctly
// rounded as the library allows). Each work item is computed by one
// goroutine in a fixed order, so results do not depend on the threads.

// expf is the plain profile's expf.
func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

// dot32 is Σ x[i]·y[i] in float32 with four accumulators (element i in
// accumulator i mod 4), combined as (a0+a1)+(a2+a3).
func dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		x4, y4 := x[i:i+4:i+4], y[i:i+4:i+4]
		a0 += x4[0] * y4[0]
		a1 += x4[1] * y4[1]
		a2 += x4[2] * y4[2]
		a3 += x4[3] * y4[3]
	}
	for ; i < len(x); i++ {
		a0 += x[i] * y[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// rmsnormPlain: out, x [rows,n], γ [n], n, eps. ss = Σ x² in float32,
// r = 1/sqrtf(ss/n + eps), out = (x·r)·γ.
func rmsnormPlain(c backend.CPUCall, wt gguf.Type, in, out act) {
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
		mean := dot32(x, x) / float32(n)
		scale := 1 / float32(math.Sqrt(float64(mean+eps)))
		for i, v := range x {
			x[i] = (v * scale) * g[i]
		}
		o.store(r*n, x)
	}
}

// ropePlain: out, x [T, heads·hd], heads, hd, ropeDim, pos0 (Pos), base,
// style. inv_i = powf(base, −2i/ropeDim), θ = float32(pos)·inv_i,
// c = cosf(θ), s = sinf(θ). Item = t·heads + h.
func ropePlain(c backend.CPUCall, in, out act) {
	a := c.Args
	heads, hd, rd, pos0, base, neox := a[2].I, a[3].I, a[4].I, a[5].Pos(), a[6].F, a[7].I == 1
	half := rd / 2
	sc := getScratch(hd + 3*half)
	defer putScratch(sc)
	s := *sc
	x, inv, cs, sn := s[:hd], s[hd:hd+half], s[hd+half:hd+2*half], s[hd+2*half:hd+3*half]
	for i := range inv {
		inv[i] = float32(math.Pow(float64(base), float64(float32(-2*i)/float32(rd))))
	}
	xt, o := in.bind(a[1]), out.bind(a[0])
	lastT := -1
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		if t != lastT {
			p := float32(pos0 + t)
			for i, f := range inv {
				th := float64(p * f)
				cs[i], sn[i] = float32(math.Cos(th)), float32(math.Sin(th))
			}
			lastT = t
		}
		off := (t*heads + h) * hd
		xt.load(off, x)
		for i := range half {
			j, k := 2*i, 2*i+1 // normal: adjacent pairs
			if neox {
				j, k = i, i+half
			}
			x0, x1 := x[j], x[k]
			x[j] = x0*cs[i] - x1*sn[i]
			x[k] = x0*sn[i] + x1*cs[i]
		}
		o.store(off, x)
	}
}

// attentionPlain: out [T,heads·hd], q [T,heads·hd], kcache, vcache
// [ctx,kv·hd], heads, kvHeads, hd, pos0 (Pos), scale. For query t of head
// h: s_j = scale·(q·k_j) (dot32), m = max s_j, p_j = expf(s_j − m),
// l = Σ p_j (in order), out = (Σ_j p_j·v_j)/l (in order of j).
func attentionPlain(c backend.CPUCall, in, kv, out act) {
	a := c.Args
	heads, kvh, hd, pos0, scale := a[4].I, a[5].I, a[6].I, a[7].Pos(), a[8].F
	group := heads / kvh
	kvDim := kvh * hd
	maxPos := pos0 + (c.Hi-1)/heads + 1
	sc := getScratch(4*hd + maxPos)
	defer putScratch(sc)
	s := *sc
	q, res, kr, vr, scores := s[:hd], s[hd:2*hd], s[2*hd:3*hd], s[3*hd:4*hd], s[4*hd:]
	qt, kt, vt, o := in.bind(a[1]), kv.bind(a[2]), kv.bind(a[3]), out.bind(a[0])
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		g := h / group
		n := pos0 + t + 1 // positions 0..pos0+t
		qt.load((t*heads+h)*hd, q)
		mx := float32(math.Inf(-1))
		for j := range n {
			v := scale * dot32(q, kt.view(j*kvDim+g*hd, hd, kr))
			scores[j] = v
			mx = max(mx, v)
		}
		var l float32
		clear(res)
		for j := range n {
			p := expf(scores[j] - mx)
			l += p
			for i, x := range vt.view(j*kvDim+g*hd, hd, vr) {
				res[i] += p * x
			}
		}
		for i := range res {
			res[i] /= l
		}
		o.store((t*heads+h)*hd, res)
	}
}

// swigluPlain: out, gate, up [rows,n], n. out = g/(1 + expf(−g))·u.
func swigluPlain(c backend.CPUCall, in, out act) {
	n := c.Args[3].I
	sc := getScratch(2 * n)
	defer putScratch(sc)
	g, u := (*sc)[:n], (*sc)[n:]
	gt, ut, o := in.bind(c.Args[1]), in.bind(c.Args[2]), out.bind(c.Args[0])
	for r := c.Lo; r < c.Hi; r++ {
		gt.load(r*n, g)
		ut.load(r*n, u)
		for i, x := range g {
			g[i] = x / (1 + expf(-x)) * u[i]
		}
		o.store(r*n, g)
	}
}
