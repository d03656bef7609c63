package backendtest

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

const eps32 = 1.0 / (1 << 24)

var acts = []backend.DType{backend.F32, backend.F16}

// dispatch loads spec under the case's profile and runs it once over g in
// its own encoder.
func (h *harness) dispatch(spec backend.KernelSpec, g backend.Grid, args ...backend.Arg) error {
	spec.In, spec.Out, spec.KV, spec.Numerics = h.in, h.out, h.in, h.prof
	k, err := h.b.Load(spec)
	if err != nil {
		return err
	}
	enc := h.b.Begin()
	enc.Dispatch(k, g, args...)
	return enc.Commit()
}

type result = func(h *harness) ([]float64, []byte, []float64, []float64, error)

// cases lists every conformance case of profile p in a fixed order: the
// ops p contains (OpMatMulQ is GGMLCPU's only), with p's oracle and
// bounds (backend/numerics.go states the plain ones).
func cases(p backend.Numerics) []testCase {
	var cs []testCase
	ggml := p == backend.GGMLCPU
	add := func(op, shape string, w gguf.Type, hasW bool, acc float64, run result) {
		for _, a := range acts {
			cs = append(cs, testCase{op: op, shape: shape, w: w, hasW: hasW, prof: p, in: a, out: a, tol: storageTol(a, acc), run: run})
		}
	}
	for _, w := range WeightTypes {
		for _, s := range matmulShapes(w.BlockSize()) {
			add(backend.OpMatMul, fmt.Sprintf("K=%d,N=%d,T=%d", s[0], s[1], s[2]), w, true, 1e-6, matmulCase(w, s[0], s[1], s[2]))
		}
	}
	for _, w := range WeightTypes {
		if !ggml {
			break
		}
		s := matmulShapes(w.BlockSize())[1]
		add(backend.OpMatMulQ, fmt.Sprintf("K=%d,N=%d,T=%d", s[0], s[1], s[2]), w, true, 1e-6, matmulQCase(w, s[0], s[1], s[2]))
	}
	for _, w := range WeightTypes {
		d := map[int]int{1: 67, 32: 96, 256: 256}[w.BlockSize()]
		add(backend.OpEmbed, fmt.Sprintf("d=%d,vocab=11,T=5", d), w, true, 1e-6, embedCase(w, d, 11, 5))
	}
	for _, s := range [][3]int{{64, 1, 0}, {67, 17, 0}, {896, 3, 0}, {128, 68, 1}} {
		inPlace := s[2] == 1 // as qwen3's per-head norm of q is run
		// ggml sums the squares in float64; plain in float32: (n+6)·u
		// relative (numerics.go).
		acc := 0.0
		if !ggml {
			acc = float64(s[0]+6) * eps32
		}
		add(backend.OpRMSNorm, fmt.Sprintf("n=%d,rows=%d%s", s[0], s[1], map[bool]string{true: ",in-place"}[inPlace]),
			gguf.TypeF32, false, acc, rmsnormCase(s[0], s[1], inPlace))
	}
	add(backend.OpAddBias, "n=67,T=17", gguf.TypeF32, false, eps32, addBiasCase(67, 17))
	for i, s := range []struct{ heads, hd, rd, pos0, t int }{{3, 64, 64, 0, 17}, {2, 128, 128, 1000, 1}, {2, 64, 32, 5, 3}, {4, 128, 64, 3000, 2}} {
		inPlace := i == 0 // as the reference path runs it
		// ggml-cpu's oracle rotates by llama.cpp's float32 angles; plain's
		// by the exact angle, so the angle's own float32 error (≤ 6u·|θ|,
		// |θ| ≤ the last position) is part of the bound (numerics.go).
		acc := 8 * eps32
		if !ggml {
			acc += 6 * eps32 * float64(s.pos0+s.t-1)
		}
		for style := range 2 {
			add(backend.OpRope, fmt.Sprintf("heads=%d,hd=%d,rope_dim=%d,pos0=%d,T=%d,%s%s", s.heads, s.hd, s.rd, s.pos0, s.t,
				[]string{"normal", "neox"}[style], map[bool]string{true: ",in-place"}[inPlace]),
				gguf.TypeF32, false, acc, ropeCase(s.heads, s.hd, s.rd, s.pos0, s.t, style, inPlace, ggml))
		}
	}
	add(backend.OpCopy, "n=67,rows=17", gguf.TypeF32, false, 0, copyCase(67, 17))
	for _, s := range []struct{ heads, kv, hd, t, pos0 int }{{4, 4, 64, 1, 0}, {4, 2, 64, 17, 0}, {14, 2, 64, 17, 300}, {2, 2, 128, 1, 777}, {7, 1, 128, 5, 40}} {
		shape := fmt.Sprintf("heads=%d,kv=%d,hd=%d,T=%d,pos0=%d", s.heads, s.kv, s.hd, s.t, s.pos0)
		for _, a := range acts {
			// Over an f16 cache ggml-cpu's products are ggml's f16 matmuls:
			// the probabilities are rounded to f16 before the V sums (q is
			// stored in f16 already), which moves each term p_j·v_j by at
			// most 2⁻¹¹ of itself: 2⁻¹¹·Σ p_j|v_j| (backend/ops.go).
			acc := 4e-6
			if ggml && a == backend.F16 {
				acc += 1.0 / (1 << 11)
			}
			cs = append(cs, testCase{op: backend.OpAttention, shape: shape, w: gguf.TypeF32, prof: p, in: a, out: a,
				tol: storageTol(a, acc), run: attentionCase(s.heads, s.kv, s.hd, s.t, s.pos0)})
		}
	}
	add(backend.OpAdd, "n=67,rows=17", gguf.TypeF32, false, eps32, addCase(67, 17))
	add(backend.OpSwiGLU, "n=67,rows=17", gguf.TypeF32, false, 8*eps32, swigluCase(67, 17))
	return cs
}

// matmulShapes are (K, N, T) triples valid for a block size.
func matmulShapes(bs int) [][3]int {
	switch bs {
	case 1:
		return [][3]int{{67, 13, 1}, {67, 41, 17}, {512, 65, 3}}
	case 32:
		return [][3]int{{96, 13, 1}, {160, 41, 17}, {512, 65, 3}}
	}
	return [][3]int{{256, 13, 1}, {256, 41, 17}, {512, 65, 3}}
}

func matmulCase(w gguf.Type, K, N, T int) result {
	return gemmCase(backend.OpMatMul, w, K, N, T, false)
}

// gemmCase checks op (matmul or matmul_q) against a float64 product; with
// round, the oracle's activations are first rounded as llama.cpp rounds them
// for w's dot product (roundedX).
func gemmCase(op string, w gguf.Type, K, N, T int, round bool) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		x, xs, err := h.act(h.uniform(T*K, 1), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if round {
			if xs, err = roundedX(w, xs, K); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		wb, wv, err := h.weight(w, K, N, 1)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out, err := h.alloc(T*N, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: op, Weight: w}, backend.Grid{X: N},
			backend.Buf(out), backend.Buf(x), backend.Buf(wb), backend.Int(K), backend.Int(N), backend.Int(T)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, T*N), make([]float64, T*N)
		for t := range T {
			for n := range N {
				var s, m float64
				for k := range K {
					p := wv[n*K+k] * xs[t*K+k]
					s += p
					m += math.Abs(p)
				}
				ref[t*N+n], mag[t*N+n] = s, m
			}
		}
		got, raw, err := h.read(out, T*N, h.out)
		return got, raw, ref, mag, err
	}
}

func embedCase(w gguf.Type, d, vocab, T int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		wb, wv, err := h.weight(w, d, vocab, 1)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		ids := make([]int32, T)
		idb, _ := h.b.Alloc(4 * T)
		h.bufs = append(h.bufs, idb)
		raw := make([]byte, 4*T)
		for t := range ids {
			ids[t] = int32(h.rng.IntN(vocab))
			raw[4*t], raw[4*t+1], raw[4*t+2], raw[4*t+3] = byte(ids[t]), byte(ids[t]>>8), byte(ids[t]>>16), byte(ids[t]>>24)
		}
		if err := h.b.Upload(idb, 0, raw); err != nil {
			return nil, nil, nil, nil, err
		}
		out, err := h.alloc(T*d, h.out)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpEmbed, Weight: w}, backend.Grid{X: T},
			backend.Buf(out), backend.Buf(wb), backend.Buf(idb), backend.Int(d)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, T*d), make([]float64, T*d)
		for t, id := range ids {
			copy(ref[t*d:], wv[int(id)*d:(int(id)+1)*d])
			for i := range d {
				mag[t*d+i] = math.Abs(ref[t*d+i]) + 1
			}
		}
		got, rawOut, err := h.read(out, T*d, h.out)
		return got, rawOut, ref, mag, err
	}
}

func rmsnormCase(n, rows int, inPlace bool) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		x, xs, err := h.act(h.uniform(rows*n, 2), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		gb, gv, err := h.weight(gguf.TypeF32, n, 1, 1.5)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		out := x
		if !inPlace {
			if out, err = h.alloc(rows*n, h.out); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		const eps = 1e-5
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpRMSNorm}, backend.Grid{X: rows},
			backend.Buf(out), backend.Buf(x), backend.Buf(gb), backend.Int(n), backend.Float(eps)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, rows*n), make([]float64, rows*n)
		for r := range rows {
			var ss float64
			for _, v := range xs[r*n : (r+1)*n] {
				ss += v * v
			}
			s := 1 / math.Sqrt(ss/float64(n)+float64(float32(eps)))
			for i := range n {
				ref[r*n+i] = xs[r*n+i] * s * gv[i]
				mag[r*n+i] = math.Abs(ref[r*n+i])
			}
		}
		got, raw, err := h.read(out, rows*n, h.out)
		return got, raw, ref, mag, err
	}
}

func addBiasCase(n, T int) result {
	return func(h *harness) ([]float64, []byte, []float64, []float64, error) {
		x, xs, err := h.act(h.uniform(T*n, 3), h.in)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		bb, bv, err := h.weight(gguf.TypeF32, n, 1, 1)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		// In place, as the reference path uses it.
		if err := h.dispatch(backend.KernelSpec{Name: backend.OpAddBias}, backend.Grid{X: T},
			backend.Buf(x), backend.Buf(x), backend.Buf(bb), backend.Int(n)); err != nil {
			return nil, nil, nil, nil, err
		}
		ref, mag := make([]float64, T*n), make([]float64, T*n)
		for i := range ref {
			ref[i] = xs[i] + bv[i%n]
			mag[i] = math.Abs(xs[i]) + math.Abs(bv[i%n])
		}
		got, raw, err := h.read(x, T*n, h.out)
		return got, raw, ref, mag, err
	}
}
