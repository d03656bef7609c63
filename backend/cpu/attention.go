package cpu

import (
	"math"

	"github.com/metallic-go/metallic/backend"
)

// rope: out, x [T, heads·hd], heads, hd, ropeDim, pos0, base, style.
// Item = t·heads + h.
func rope(c backend.CPUCall, in, out act) {
	a := c.Args
	heads, hd, rd, pos0, base, neox := a[2].I, a[3].I, a[4].I, a[5].I, a[6].F, a[7].I == 1
	sc := getScratch(hd + rd + rd/2)
	defer putScratch(sc)
	x, cs, th := (*sc)[:hd], (*sc)[hd:hd+rd], (*sc)[hd+rd:]
	xt, o := in.bind(a[1]), out.bind(a[0])
	lastT := -1
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		if t != lastT {
			// cos and sin of θ_i ≈ pos·base^(-2i/rd), i < rd/2, with
			// llama.cpp's float32 angles.
			backend.RopeAngles(pos0+t, base, rd, th)
			for i, a := range th {
				cs[2*i], cs[2*i+1] = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
			}
			lastT = t
		}
		off := (t*heads + h) * hd
		xt.load(off, x)
		for i := 0; i < rd/2; i++ {
			j, k := 2*i, 2*i+1 // normal: adjacent pairs
			if neox {
				j, k = i, i+rd/2
			}
			cos, sin := cs[2*i], cs[2*i+1]
			x0, x1 := x[j], x[k]
			x[j] = x0*cos - x1*sin
			x[k] = x0*sin + x1*cos
		}
		o.store(off, x)
	}
}

// attention: out [T,heads·hd], q [T,heads·hd], kcache, vcache [ctx,kv·hd],
// heads, kvHeads, hd, pos0, scale. Item = t·heads + h.
func attention(c backend.CPUCall, in, out act) {
	a := c.Args
	heads, kvh, hd, pos0, scale := a[4].I, a[5].I, a[6].I, a[7].I, a[8].F
	group := heads / kvh
	kvDim := kvh * hd
	maxPos := pos0 + (c.Hi-1)/heads + 1
	sc := getScratch(4*hd + maxPos)
	defer putScratch(sc)
	s := *sc
	q, acc, kr, vr, scores := s[:hd], s[hd:2*hd], s[2*hd:3*hd], s[3*hd:4*hd], s[4*hd:]
	qt, kt, vt, o := in.bind(a[1]), in.bind(a[2]), in.bind(a[3]), out.bind(a[0])
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		g := h / group
		n := pos0 + t + 1 // positions 0..pos0+t
		qt.load((t*heads+h)*hd, q)
		mx := float32(math.Inf(-1))
		for j := range n {
			k := kt.view(j*kvDim+g*hd, hd, kr)
			v := dot(q, k) * scale
			scores[j] = v
			mx = max(mx, v)
		}
		var sum float64
		for j := range n {
			e := float32(math.Exp(float64(scores[j] - mx)))
			scores[j] = e
			sum += float64(e)
		}
		inv := float32(1 / sum)
		clear(acc)
		for j := range n {
			p := scores[j] * inv
			v := vt.view(j*kvDim+g*hd, hd, vr)
			for i, vv := range v {
				acc[i] += p * vv
			}
		}
		o.store((t*heads+h)*hd, acc)
	}
}
