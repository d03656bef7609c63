package cpu

import (
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// rope (ggml-cpu): out, x [T, heads·hd], heads, hd, ropeDim, pos0 (Pos), base, style.
// Item = t·heads + h.
func rope(c backend.CPUCall, in, out act) {
	a := c.Args
	heads, hd, rd, pos0, base, neox := a[2].I, a[3].I, a[4].I, a[5].Pos(), a[6].F, a[7].I == 1
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
			ggmlnum.RopeAngles(pos0+t, base, rd, th)
			for i, a := range th {
				// glibc's sinf/cosf, which ggml calls.
				cs[2*i+1], cs[2*i] = ggmlnum.Sincosf(a)
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
			// ggml's rotate_pairs as GCC contracts it: the first product
			// of each expression fused with the rounded second one.
			x[j] = ggmlnum.FMA32(x0, cos, -(x1 * sin))
			x[k] = ggmlnum.FMA32(x0, sin, x1*cos)
		}
		o.store(off, x)
	}
}

// attention (ggml-cpu): out [T,heads·hd], q [T,heads·hd], kcache, vcache [ctx,kv·hd],
// heads, kvHeads, hd, pos0 (Pos), scale. Item = t·heads + h.
//
// The arithmetic is ggml's (non-flash) CPU attention as llama.cpp runs it,
// so the reference agrees with llama.cpp bit for bit:
//   - s_j = q·k_j through ggml_vec_dot_f32 (llama.cpp's q is a
//     non-contiguous view, which tinyBLAS does not take; one query row is
//     below tinyBLAS's n ≥ 2 anyway);
//   - w_j = s_j·scale, p = softmax(w) with ggml_vec_soft_max_f32: ggml's
//     vector exp over groups of 16 positions (masked positions give 0),
//     each group summed with Reduce16 and added in float64, p_j = e_j·
//     float32(1/Σ);
//   - out[i] = Σ_j p_j·v_j[i]: for a prompt through tinyBLAS (16 lanes,
//     j mod 16, of fused multiply-adds, then Reduce16), for one query
//     through ggml_vec_dot_f32 (64 lanes, j mod 64, reduced as DotF32).
//
// llama.cpp's KV length is a multiple of 256 (masked positions add exact
// zeros), so every position falls in a whole group and no tail remains.
//
// With an f16 cache under GGMLCPU (ggmlF16) both products are ggml's f16
// matmuls: q is rounded to f16 and s_j is tinyBLAS's f16 GEMM element
// (DotF32Tiny) for a prompt whose head size is a multiple of 16, else
// ggml_vec_dot_f16; and p is rounded to f16 before the V sums (same lanes
// as above). Under Plain nothing is rounded inside the op.
func attention(c backend.CPUCall, in, kv, out act, ggmlF16 bool) {
	a := c.Args
	heads, kvh, hd, pos0, scale := a[4].I, a[5].I, a[6].I, a[7].Pos(), a[8].F
	T := c.Grid.Items() / heads
	group := heads / kvh
	kvDim := kvh * hd
	maxPos := pos0 + (c.Hi-1)/heads + 1
	padded := (maxPos + 15) &^ 15
	// Lanes of the V sums: 64 per dim for ggml_vec_dot_f32 (T = 1), 16
	// for tinyBLAS.
	width := 16
	if T == 1 {
		width = 64
	}
	sc := getScratch(4*hd + padded + width*hd)
	defer putScratch(sc)
	s := *sc
	q, res, kr, vr := s[:hd], s[hd:2*hd], s[2*hd:3*hd], s[3*hd:4*hd]
	scores, lanes := s[4*hd:4*hd+padded], s[4*hd+padded:]
	qt, kt, vt, o := in.bind(a[1]), kv.bind(a[2]), kv.bind(a[3]), out.bind(a[0])
	f16 := ggmlF16
	dot := ggmlnum.DotF32
	if f16 {
		dot = ggmlnum.DotF16
		if T > 1 && hd%16 == 0 {
			dot = ggmlnum.DotF32Tiny
		}
	}
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		g := h / group
		n := pos0 + t + 1 // positions 0..pos0+t
		qt.load((t*heads+h)*hd, q)
		if f16 {
			for i, x := range q {
				q[i] = gguf.F16ToF32(gguf.F32ToF16(x))
			}
		}
		mx := float32(math.Inf(-1))
		if !f16 && kt.f != nil {
			// An f32 cache: DotF32 of every cached row at once, read in
			// place (DotF32Rows: the same values).
			ggmlnum.DotF32Rows(scores[:n], f32Bytes(kt.f[g*hd:]), 4*kvDim, q)
			for j, v := range scores[:n] {
				v *= scale
				scores[j] = v
				mx = max(mx, v)
			}
		} else {
			for j := range n {
				k := kt.view(j*kvDim+g*hd, hd, kr)
				v := dot(k, q) * scale
				scores[j] = v
				mx = max(mx, v)
			}
		}
		np := (n + 15) &^ 15
		for j := range n {
			scores[j] -= mx
		}
		ggmlnum.ExpfN(scores[:n], scores[:n]) // ggml's vector exp, lane by lane
		var sum float64
		for j0 := 0; j0 < np; j0 += 16 {
			var e [16]float32
			copy(e[:], scores[j0:min(j0+16, n)]) // masked positions give 0
			sum += float64(ggmlnum.Reduce16(&e))
		}
		inv := float32(1 / sum)
		// lanes[slot·hd+i] is the accumulator of dim i in lane slot:
		// position j goes to slot j mod width, as the lanes of the
		// kernels ggml uses, with fused multiply-adds.
		clear(lanes)
		for j := range n {
			p := scores[j] * inv
			if f16 {
				p = gguf.F16ToF32(gguf.F32ToF16(p))
			}
			v := vt.view(j*kvDim+g*hd, hd, vr)
			slot := j & (width - 1)
			ggmlnum.FMAScale(lanes[slot*hd:(slot+1)*hd], v, p)
		}
		if T == 1 {
			// tinyBLAS declines a single query (n < 2): ggml_vec_dot_f32
			// dots each V column with p.
			sumLanes64(res, lanes, hd)
		} else {
			for i := range res {
				var a ggmlnum.TinyLanes
				for l := range a {
					a[l] = lanes[l*hd+i]
				}
				res[i] = a.Sum()
			}
		}
		o.store((t*heads+h)*hd, res)
	}
}

// sumLanes64 writes res[i] = ggmlnum.DotF32Lanes.Sum of the 64 lanes
// lanes[l·hd+i], l < 64, for every dim i < hd: the same additions in the
// same order, done a lane row at a time (contiguous in i) instead of one
// dim's 64 strided lanes at a time. It overwrites lanes' first 16 rows.
func sumLanes64(res, lanes []float32, hd int) {
	row := func(l int) []float32 { return lanes[l*hd : (l+1)*hd : (l+1)*hd] }
	// s_l = (a_l + a_{32+l}) + (a_{16+l} + a_{48+l}), into row l.
	for l := range 16 {
		r, a, b, c := row(l), row(32+l), row(16+l), row(48+l)
		for i := range r {
			r[i] = (r[i] + a[i]) + (b[i] + c[i])
		}
	}
	// Reduce16: s_l + s_{l+8}, then + the sum 4 rows on, then the last
	// four as (t0+t2)+(t1+t3).
	for l := range 8 {
		r, a := row(l), row(l+8)
		for i := range r {
			r[i] += a[i]
		}
	}
	for l := range 4 {
		r, a := row(l), row(l+4)
		for i := range r {
			r[i] += a[i]
		}
	}
	t0, t1, t2, t3 := row(0), row(1), row(2), row(3)
	for i := range res[:hd] {
		res[i] = (t0[i] + t2[i]) + (t1[i] + t3[i])
	}
}

// flashAttention: OpAttention's flash variant (KernelSpec.Flash.On), the
// arithmetic of ggml's CPU flash attention (ggmlnum.Flash) with the op's
// shape as llama.cpp gives it: the call's positions cut into ubatches of
// fa.Batch, each seeing its last position + 1 cells rounded up to
// backend.FlashKVPad, and fa.Threads llama.cpp threads. K and V are f16 to
// the kernel whatever the cache stores: llama.cpp casts an f32 cache to
// f16 before its flash attention (ggml_cast in build_attn_mha), so f32
// cache rows are rounded to f16 as they are read. Arguments as attention;
// item = t·heads + h.
func flashAttention(c backend.CPUCall, in, kv, out act, fa backend.FlashAttn) {
	a := c.Args
	heads, kvh, hd, pos0, scale := a[4].I, a[5].I, a[6].I, a[7].Pos(), a[8].F
	T := c.Grid.Items() / heads
	group := heads / kvh
	kvDim := kvh * hd
	sc := getScratch(4 * hd)
	defer putScratch(sc)
	s := *sc
	q, res, kr, vr := s[:hd], s[hd:2*hd], s[2*hd:3*hd], s[3*hd:4*hd]
	qt, kt, vt, o := in.bind(a[1]), kv.bind(a[2]), kv.bind(a[3]), out.bind(a[0])
	row := func(t tensor, off int, dst []float32) []float32 {
		t.load(off, dst)
		if kv.dt == backend.F32 {
			for i, x := range dst {
				dst[i] = gguf.F16ToF32(gguf.F32ToF16(x))
			}
		}
		return dst
	}
	f := ggmlnum.Flash{F16: true, Scale: scale, Threads: fa.Threads}
	batch := fa.Batch
	if batch <= 0 {
		batch = T
	}
	for it := c.Lo; it < c.Hi; it++ {
		t, h := it/heads, it%heads
		g := h / group
		u0 := t / batch * batch // the ubatch's first query
		f.Queries = min(batch, T-u0)
		f.Cells = (pos0 + u0 + f.Queries + backend.FlashKVPad - 1) / backend.FlashKVPad * backend.FlashKVPad
		qt.load((t*heads+h)*hd, q)
		f.Row(res, q, pos0+t+1,
			func(j int) []float32 { return row(kt, j*kvDim+g*hd, kr) },
			func(j int) []float32 { return row(vt, j*kvDim+g*hd, vr) })
		o.store((t*heads+h)*hd, res)
	}
}
