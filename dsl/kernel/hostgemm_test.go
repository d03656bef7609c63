package kernel

import (
	"fmt"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// TestGPUGemvGemmExecuteLikeCPU runs the generated sources of the GEMV and
// the tiled GEMM forms on the host, in both dialects, on the shapes that
// exercise their edges: every GPU weight dtype, several staged chunks
// (K > 2048), the scalar fallback (F16 with K not a multiple of 8), a K
// tail inside a GEMM k-step, token counts that are not whole tiles, rows
// past the output, four rows per SIMD group, a gate/up pair of different
// dtypes, three outputs with a KV-cache write at the call's position, and
// every epilogue the specs use.
func TestGPUGemvGemmExecuteLikeCPU(t *testing.T) {
	requireClang(t)
	var cases []hostCase
	for _, half := range []bool{false, true} {
		h := newHarness(t, half, 2)
		a := h.elem()
		add := func(name string, rows int, b Binding, pros []Prologue, main *Gemv, epis []Epilogue) {
			k, err := Compose("k", pros, main, epis)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b["$tokens"] = backend.Int(rows)
			form := "gemv"
			if main.Tiled {
				form = "gemm"
			}
			cases = append(cases, hostCase{fmt.Sprintf("%s %s/%s", form, name, a.msl), k, rows, b})
		}
		norm := func(K int) (Binding, []Prologue) {
			gb, _ := h.weight(gguf.TypeF32, 1, K, 1)
			return Binding{"gamma": backend.Buf(gb)}, []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}}
		}
		for _, tiled := range []bool{false, true} {
			T := 37
			if !tiled {
				T = 3
			}
			// Three outputs of mixed dtypes, biases, v written at row pos+t.
			for _, types := range [][]gguf.Type{{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K}, {gguf.TypeBF16, gguf.TypeQ4_0, gguf.TypeQ6_K}, {gguf.TypeF32, gguf.TypeF32, gguf.TypeF16}, {gguf.TypeQ5_0, gguf.TypeQ4_1, gguf.TypeQ5_0}} {
				const K, pos = 256, 3
				N := []int{70, 16, 24}
				xb, _ := h.act(h.randn(T*K, 1))
				b, pros := norm(K)
				b["x"], b["vars"] = backend.Buf(xb), backend.Buf(h.vars(pos))
				for i, ty := range types {
					wb, _ := h.weight(ty, N[i], K, 0.1)
					bb, _ := h.weight(gguf.TypeF32, 1, N[i], 1)
					rows := T
					if i == 2 {
						rows = pos + T
					}
					b[fmt.Sprint("w", i)], b[fmt.Sprint("b", i)], b[fmt.Sprint("y", i)] = backend.Buf(wb), backend.Buf(bb), backend.Buf(h.zeros(rows*N[i], a))
				}
				add(fmt.Sprint("qkv ", types), T, b, pros,
					&Gemv{Types: types, K: K, N: N, In: a, Out: a, AtPos: []bool{false, false, true}, Tiled: tiled},
					[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32, gguf.TypeF32}}})
			}
			// Gate/up pairs of different dtypes with SwiGLU.
			for _, types := range [][]gguf.Type{{gguf.TypeF16, gguf.TypeQ6_K}, {gguf.TypeQ4_K, gguf.TypeF16}, {gguf.TypeQ8_0, gguf.TypeQ8_0}} {
				const K, N = 256, 40
				xb, _ := h.act(h.randn(T*K, 1))
				w0, _ := h.weight(types[0], N, K, 0.1)
				w1, _ := h.weight(types[1], N, K, 0.1)
				b, pros := norm(K)
				b["x"], b["w0"], b["w1"], b["y0"] = backend.Buf(xb), backend.Buf(w0), backend.Buf(w1), backend.Buf(h.zeros(T*N, a))
				add(fmt.Sprint("swiglu ", types), T, b, pros,
					&Gemv{Types: types, K: K, N: []int{N}, In: a, Out: a, Pair: true, Tiled: tiled}, []Epilogue{SwiGLU{}})
			}
			// K tails and the scalar fallback, with a residual.
			for _, c := range []struct {
				ty gguf.Type
				K  int
			}{{gguf.TypeF32, 100}, {gguf.TypeF16, 172}, {gguf.TypeBF16, 104}, {gguf.TypeQ4_0, 96}} {
				const N = 33
				xb, _ := h.act(h.randn(T*c.K, 1))
				rb, _ := h.act(h.randn(T*N, 1))
				w, _ := h.weight(c.ty, N, c.K, 0.1)
				add(fmt.Sprintf("residual %s K=%d", c.ty, c.K), T, Binding{"x": backend.Buf(xb), "w0": backend.Buf(w),
					"residual": backend.Buf(rb), "y0": backend.Buf(h.zeros(T*N, a))}, nil,
					&Gemv{Types: []gguf.Type{c.ty}, K: c.K, N: []int{N}, In: a, Out: a, Tiled: tiled},
					[]Epilogue{&Residual{Alpha: 1, Beta: 1, Elem: a}})
			}
		}
		// GEMV only: several staged chunks, four rows per SIMD group.
		for _, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeQ4_K, gguf.TypeQ8_0} {
			const K, N, T = 2304, 72, 1
			xb, _ := h.act(h.randn(T*K, 1))
			w, _ := h.weight(ty, N, K, 0.05)
			b, pros := norm(K)
			b["x"], b["w0"], b["y0"] = backend.Buf(xb), backend.Buf(w), backend.Buf(h.zeros(T*N, Float))
			add(fmt.Sprint("chunks ", ty), T, b, pros, &Gemv{Types: []gguf.Type{ty}, K: K, N: []int{N}, In: a, Out: Float, Rows: 32}, nil)
		}
		// GEMV only: RoPE fused into the store of q and k (pairs meeting
		// in threadgroup memory) for each row layout, both styles, both
		// angle forms, a partial rope_dim; k_rope and v at their cache rows.
		for i, rows := range []int{2, 4, 8} {
			const K, T, hd, pos = 256, 2, 32, 5
			N := []int{4 * hd, 2 * hd, 2 * hd}
			xb, _ := h.act(h.randn(T*K, 1))
			b, pros := norm(K)
			b["x"], b["vars"] = backend.Buf(xb), backend.Buf(h.vars(pos))
			for o, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K} {
				w, _ := h.weight(ty, N[o], K, 0.1)
				bb, _ := h.weight(gguf.TypeF32, 1, N[o], 1)
				b[fmt.Sprint("w", o)], b[fmt.Sprint("b", o)] = backend.Buf(w), backend.Buf(bb)
				rowsOut := T
				if o > 0 {
					rowsOut = pos + T
				}
				b[fmt.Sprint("y", o)] = backend.Buf(h.zeros(rowsOut*N[o], a))
			}
			rd := []int{hd, 16, hd}[i]
			rope := &GemvRope{NeoX: i != 1, Dim: rd, HeadDim: hd, Base: 10000, Plain: i != 2}
			add(fmt.Sprintf("rope rows=%d rd=%d neox=%v plain=%v", rows, rd, rope.NeoX, rope.Plain), T, b, pros,
				&Gemv{Types: []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K}, K: K, N: N, In: a, Out: a, Rows: rows,
					AtPos: []bool{false, true, true}, Rope: rope},
				[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32, gguf.TypeF32}}})
		}
		// GEMV only: each layout of rows over SIMD groups — a row split
		// over 4 groups across several chunks, over 2 groups with a cache
		// write and a residual, one group per row (8 rows), for a pair too.
		for _, rows := range []int{1, 2, 4, 8} {
			const K, N, T = 2304, 40, 2
			xb, _ := h.act(h.randn(T*K, 1))
			rb, _ := h.act(h.randn(T*N, 1))
			w0, _ := h.weight(gguf.TypeF16, N, K, 0.05)
			w1, _ := h.weight(gguf.TypeQ8_0, 16, K, 0.05)
			b, pros := norm(K)
			b["x"], b["w0"], b["w1"], b["residual"] = backend.Buf(xb), backend.Buf(w0), backend.Buf(w1), backend.Buf(rb)
			b["y0"], b["y1"], b["vars"] = backend.Buf(h.zeros(T*N, a)), backend.Buf(h.zeros((3+T)*16, a)), backend.Buf(h.vars(3))
			add(fmt.Sprint("split rows=", rows), T, b, pros, &Gemv{Types: []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0}, K: K, N: []int{N, 16},
				In: a, Out: a, Rows: rows, AtPos: []bool{false, true}}, []Epilogue{&Residual{Alpha: 1, Beta: 1, Elem: a}})
			p0, _ := h.weight(gguf.TypeQ4_K, N, K, 0.05)
			p1, _ := h.weight(gguf.TypeF16, N, K, 0.05)
			bp, pros := norm(K)
			bp["x"], bp["w0"], bp["w1"], bp["y0"] = backend.Buf(xb), backend.Buf(p0), backend.Buf(p1), backend.Buf(h.zeros(T*N, a))
			add(fmt.Sprint("split pair rows=", rows), T, bp, pros, &Gemv{Types: []gguf.Type{gguf.TypeQ4_K, gguf.TypeF16}, K: K, N: []int{N},
				In: a, Out: a, Pair: true, Rows: rows}, []Epilogue{SwiGLU{}})
		}
	}
	checkCases(t, cases)
}
