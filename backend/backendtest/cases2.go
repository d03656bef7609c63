package backendtest

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
)

// ropeCase checks OpRope against rotations in float64 by llama.cpp's
// float32 angles (ggml) or by the exact angles pos·base^(−2i/rd).
func ropeCase(heads, hd, rd, pos0, T, style int, inPlace, ggml bool) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		n := T * heads * hd
		x, xs, err := h.act(h.uniform(n, 2), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out := x
		if !inPlace {
			if out, err = h.alloc(n, h.out); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		const base = 10000
		p, err := h.pos(pos0)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpRope}, backend.Grid{X: T * heads},
			backend.Buf(out), backend.Buf(x), backend.Int(heads), backend.Int(hd), backend.Int(rd),
			p, backend.Float(base), backend.Int(style)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, n), make([]float64, n)
		copy(ref, xs)
		for i := range mag {
			mag[i] = math.Abs(xs[i])
		}
		for t := range T {
			// Under ggml-cpu the angles are part of the op's definition
			// (llama.cpp's float32 recurrence); check they stay within
			// float32 rounding drift of the exact pos·base^(-2i/rd).
			th := make([]float64, rd/2)
			for i := range th {
				th[i] = float64(pos0+t) * math.Pow(base, -2*float64(i)/float64(rd))
			}
			if ggml {
				for i, a := range ropeAngles(pos0+t, base, rd) {
					if math.Abs(float64(a)-th[i]) > 1e-6*float64(i+1)*th[i]+1e-30 {
						return nil, nil, nil, nil, fmt.Errorf("rope angle %d at pos %d: %v, exact %v", i, pos0+t, a, th[i])
					}
					th[i] = float64(a)
				}
			}
			for hh := range heads {
				o := (t*heads + hh) * hd
				for i := 0; i < rd/2; i++ {
					c, s := math.Cos(th[i]), math.Sin(th[i])
					j, k := o+2*i, o+2*i+1
					if style == 1 {
						j, k = o+i, o+i+rd/2
					}
					ref[j] = xs[j]*c - xs[k]*s
					ref[k] = xs[j]*s + xs[k]*c
					mag[j] = math.Abs(xs[j]*c) + math.Abs(xs[k]*s)
					mag[k] = math.Abs(xs[j]*s) + math.Abs(xs[k]*c)
				}
			}
		}
		got, raw, err := h.read(out, n, h.out)
		return got, raw, ref, mag, err
	}
}

func copyCase(n, rows int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		x, xs, err := h.act(h.uniform(rows*n, 5), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		// Copy into rows 2.. of a larger buffer, as a KV-cache write does.
		dst, err := h.alloc((rows+3)*n, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		p, err := h.pos(2)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpCopy}, backend.Grid{X: rows},
			backend.Buf(dst), backend.Buf(x), backend.Int(n), p); err != nil {
			return nil, nil, nil, nil, err
		}
		ref := make([]float64, (rows+3)*n)
		copy(ref[2*n:], xs)
		mag := make([]float64, len(ref))
		for i := range mag {
			mag[i] = math.Abs(ref[i])
		}
		got, raw, err := h.read(dst, len(ref), h.out)
		return got, raw, ref, mag, err
	}
}

func attentionCase(heads, kvh, hd, T, pos0 int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		ctx := pos0 + T + 3 // three rows past the end that must not be read
		kvDim := kvh * hd
		q, qs, err := h.act(h.uniform(T*heads*hd, 1), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		kv := h.uniform(ctx*kvDim, 1)
		vv := h.uniform(ctx*kvDim, 1)
		for i := (pos0 + T) * kvDim; i < ctx*kvDim; i++ {
			kv[i], vv[i] = 100, 100
		}
		kc, ks, err := h.act(kv, h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		vc, vs, err := h.act(vv, h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out, err := h.alloc(T*heads*hd, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		scale := float32(1 / math.Sqrt(float64(hd)))
		p, err := h.pos(pos0)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpAttention}, backend.Grid{X: T * heads},
			backend.Buf(out), backend.Buf(q), backend.Buf(kc), backend.Buf(vc), backend.Int(heads),
			backend.Int(kvh), backend.Int(hd), p, backend.Float(scale)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, T*heads*hd), make([]float64, T*heads*hd)
		for t := range T {
			for hh := range heads {
				g := hh / (heads / kvh)
				n := pos0 + t + 1
				s := make([]float64, n)
				mx := math.Inf(-1)
				for j := range n {
					var d float64
					for i := range hd {
						d += qs[(t*heads+hh)*hd+i] * ks[j*kvDim+g*hd+i]
					}
					s[j] = d * float64(scale)
					mx = max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				o := (t*heads + hh) * hd
				for j := range s {
					p := s[j] / sum
					for i := range hd {
						v := vs[j*kvDim+g*hd+i]
						ref[o+i] += p * v
						mag[o+i] += p * math.Abs(v)
					}
				}
			}
		}
		got, raw, err := h.read(out, len(ref), h.out)
		return got, raw, ref, mag, err
	}
}

func addCase(n, rows int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		a, as, err := h.act(h.uniform(rows*n, 3), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		b, bs, err := h.act(h.uniform(rows*n, 3), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out, err := h.alloc(rows*n, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpAdd}, backend.Grid{X: rows},
			backend.Buf(out), backend.Buf(a), backend.Buf(b), backend.Int(n)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, rows*n), make([]float64, rows*n)
		for i := range ref {
			ref[i] = as[i] + bs[i]
			mag[i] = math.Abs(as[i]) + math.Abs(bs[i])
		}
		got, raw, err := h.read(out, rows*n, h.out)
		return got, raw, ref, mag, err
	}
}

func swigluCase(n, rows int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		g, gs, err := h.act(h.uniform(rows*n, 4), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		u, us, err := h.act(h.uniform(rows*n, 2), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out, err := h.alloc(rows*n, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpSwiGLU}, backend.Grid{X: rows},
			backend.Buf(out), backend.Buf(g), backend.Buf(u), backend.Int(n)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, rows*n), make([]float64, rows*n)
		for i := range ref {
			ref[i] = gs[i] / (1 + math.Exp(-gs[i])) * us[i]
			mag[i] = math.Abs(ref[i])
		}
		got, raw, err := h.read(out, rows*n, h.out)
		return got, raw, ref, mag, err
	}
}

// ropeAngles is the oracle's copy of llama.cpp's angle recurrence:
// s = float32(base^(−2/rd)), θ_0 = pos, θ_{i+1} = θ_i·s in float32.
func ropeAngles(pos int, base float64, rd int) []float32 {
	s := float32(math.Pow(base, float64(float32(-2)/float32(rd))))
	th := make([]float32, rd/2)
	a := float32(pos)
	for i := range th {
		th[i] = a
		a *= s
	}
	return th
}
