package kernel

import (
	"fmt"
	"math"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

func forActs(t *testing.T, f func(t *testing.T, h *harness)) {
	for _, half := range []bool{false, true} {
		t.Run(ActType(half).msl, func(t *testing.T) { f(t, newHarness(t, half, 2)) })
	}
}

// RMSNorm + QKV (3 outputs, mixed dtypes) + bias vs norm, matvec and add
// in float64.
func TestFusedNormQKVBias(t *testing.T) {
	const K, T = 256, 11
	N := []int{64, 32, 32}
	for i := 0; i < len(allTypes); i += 3 {
		types := []gguf.Type{allTypes[i], allTypes[(i+1)%len(allTypes)], allTypes[(i+2)%len(allTypes)]}
		t.Run(fmt.Sprint(types), func(t *testing.T) {
			forActs(t, func(t *testing.T, h *harness) {
				xb, x := h.act(h.randn(T*K, 1))
				gb, g := h.weight(gguf.TypeF32, 1, K, 1)
				bind := Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb)}
				var w, bias [][]float64
				outs := make([]backend.Buffer, 3)
				for o := range N {
					wb, wv := h.weight(types[o], N[o], K, 0.1)
					bb, bv := h.weight(gguf.TypeF32, 1, N[o], 1)
					w, bias = append(w, wv), append(bias, bv)
					outs[o] = h.zeros(T*N[o], h.elem())
					bind[fmt.Sprint("w", o)], bind[fmt.Sprint("b", o)], bind[fmt.Sprint("y", o)] = backend.Buf(wb), backend.Buf(bb), backend.Buf(outs[o])
				}
				k, err := Compose("qkv", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}},
					&Gemv{Types: types, K: K, N: N, In: h.elem(), Out: h.elem(), Rows: 3},
					[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32, gguf.TypeF32}}})
				if err != nil {
					t.Fatal(err)
				}
				h.run(k, T, bind)
				for o := range N {
					var want []float64
					for r := 0; r < T; r++ {
						y := matvec64(w[o], rmsnorm64(x[r*K:(r+1)*K], g, 1e-5), N[o])
						for i := range y {
							y[i] += bias[o][i]
						}
						want = append(want, y...)
					}
					h.check(fmt.Sprintf("output %d (%s)", o, types[o]), h.read(outs[o], T*N[o], h.elem()), want, false)
				}
			})
		})
	}
}

// GEMV + bias + residual with alpha/beta.
func TestFusedGemvResidual(t *testing.T) {
	const K, N, T = 128, 48, 2
	forActs(t, func(t *testing.T, h *harness) {
		xb, x := h.act(h.randn(T*K, 1))
		rb, res := h.act(h.randn(T*N, 1))
		wb, w := h.weight(gguf.TypeQ8_0, N, K, 0.1)
		bb, bias := h.weight(gguf.TypeF16, 1, N, 1)
		yb := h.zeros(T*N, h.elem())
		k, err := Compose("down", nil, &Gemv{Types: []gguf.Type{gguf.TypeQ8_0}, K: K, N: []int{N}, In: h.elem(), Out: h.elem()},
			[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF16}}, &Residual{Alpha: 0.5, Beta: 1, Elem: h.elem()}})
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, T, Binding{"x": backend.Buf(xb), "w0": backend.Buf(wb), "b0": backend.Buf(bb), "residual": backend.Buf(rb), "y0": backend.Buf(yb)})
		var want []float64
		for r := 0; r < T; r++ {
			y := matvec64(w, x[r*K:(r+1)*K], N)
			for i := range y {
				want = append(want, 0.5*(y[i]+bias[i])+res[r*N+i])
			}
		}
		h.check("y", h.read(yb, T*N, h.elem()), want, false)
	})
}

// RMSNorm + gate/up pair + SwiGLU, and GEMV + GELU.
func TestFusedSwiGLUAndGELU(t *testing.T) {
	const K, N, T = 256, 40, 2
	forActs(t, func(t *testing.T, h *harness) {
		xb, x := h.act(h.randn(T*K, 1))
		gb, g := h.weight(gguf.TypeF32, 1, K, 1)
		w0b, w0 := h.weight(gguf.TypeQ4_K, N, K, 0.1)
		w1b, w1 := h.weight(gguf.TypeQ6_K, N, K, 0.1)
		yb, zb := h.zeros(T*N, h.elem()), h.zeros(T*N, h.elem())
		k, err := Compose("ffn", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-6}},
			&Gemv{Types: []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K}, K: K, N: []int{N}, In: h.elem(), Out: h.elem(), Pair: true},
			[]Epilogue{SwiGLU{}})
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, T, Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb), "w0": backend.Buf(w0b), "w1": backend.Buf(w1b), "y0": backend.Buf(yb)})
		kg, err := Compose("gelu", nil, &Gemv{Types: []gguf.Type{gguf.TypeQ4_K}, K: K, N: []int{N}, In: h.elem(), Out: h.elem()}, []Epilogue{GELU{}})
		if err != nil {
			t.Fatal(err)
		}
		h.run(kg, T, Binding{"x": backend.Buf(xb), "w0": backend.Buf(w0b), "y0": backend.Buf(zb)})
		var want, wantG []float64
		for r := 0; r < T; r++ {
			n := rmsnorm64(x[r*K:(r+1)*K], g, 1e-6)
			a, b := matvec64(w0, n, N), matvec64(w1, n, N)
			c := matvec64(w0, x[r*K:(r+1)*K], N)
			for i := range a {
				want = append(want, a[i]/(1+math.Exp(-a[i]))*b[i])
				wantG = append(wantG, 0.5*c[i]*(1+math.Tanh(math.Sqrt(2/math.Pi)*(c[i]+0.044715*c[i]*c[i]*c[i]))))
			}
		}
		h.check("swiglu", h.read(yb, T*N, h.elem()), want, false)
		h.check("gelu", h.read(zb, T*N, h.elem()), wantG, false)
	})
}

// Per-head RMSNorm + RoPE + copy into a cache at row offset pos.
func TestFusedNormRopeCacheWrite(t *testing.T) {
	const heads, hd, T, pos, ctx = 3, 16, 2, 5, 10
	for _, neox := range []bool{false, true} {
		for _, rd := range []int{hd, hd / 2} {
			t.Run(fmt.Sprintf("neox=%v/rd=%d", neox, rd), func(t *testing.T) {
				forActs(t, func(t *testing.T, h *harness) {
					xb, x := h.act(h.randn(T*heads*hd, 1))
					gb, g := h.weight(gguf.TypeF32, 1, hd, 1)
					yb := h.zeros(ctx*heads*hd, h.elem())
					k, err := Compose("rope_k", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-6}, &Rope{NeoX: neox, Dim: rd, Base: 10000}},
						&Copy{N: hd, Segs: heads, SrcStride: heads * hd, DstStride: heads * hd, In: h.elem(), Out: h.elem(), Offset: true}, nil)
					if err != nil {
						t.Fatal(err)
					}
					h.run(k, T, Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb), "y": backend.Buf(yb),
						"vars": backend.Buf(h.vars(pos))})
					want := make([]float64, ctx*heads*hd)
					for r := 0; r < T; r++ {
						for hh := 0; hh < heads; hh++ {
							o := r*heads*hd + hh*hd
							v := rmsnorm64(x[o:o+hd], g, 1e-6)
							rope64(v, pos+r, rd, 10000, neox)
							copy(want[(pos+r)*heads*hd+hh*hd:], v)
						}
					}
					h.check("cache", h.read(yb, ctx*heads*hd, h.elem()), want, false)
				})
			})
		}
	}
}

// Attention over a compact GQA cache vs softmax(q·kᵀ/√hd)·v in float64.
func TestFusedAttentionGQA(t *testing.T) {
	const heads, kvh, hd, T, pos = 4, 2, 8, 3, 4
	forActs(t, func(t *testing.T, h *harness) {
		n := pos + T
		qb, q := h.act(h.randn(T*heads*hd, 1))
		kb, kc := h.act(h.randn(n*kvh*hd, 1))
		vb, vc := h.act(h.randn(n*kvh*hd, 1))
		yb := h.zeros(T*heads*hd, h.elem())
		k, err := Compose("attn", nil, &Attention{Heads: heads, KVHeads: kvh, HeadDim: hd, In: h.elem(), Cache: h.elem(), Out: h.elem()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, T, Binding{"q": backend.Buf(qb), "k_cache": backend.Buf(kb), "v_cache": backend.Buf(vb), "y": backend.Buf(yb), "vars": backend.Buf(h.vars(pos))})
		var want []float64
		for r := 0; r < T; r++ {
			for hh := 0; hh < heads; hh++ {
				g := hh / (heads / kvh)
				var s []float64
				m := math.Inf(-1)
				for j := 0; j <= pos+r; j++ {
					var d float64
					for i := 0; i < hd; i++ {
						d += q[r*heads*hd+hh*hd+i] * kc[j*kvh*hd+g*hd+i]
					}
					s = append(s, d/math.Sqrt(hd))
					m = math.Max(m, d/math.Sqrt(hd))
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					sum += s[j]
				}
				for i := 0; i < hd; i++ {
					var o float64
					for j := range s {
						o += s[j] / sum * vc[j*kvh*hd+g*hd+i]
					}
					want = append(want, o)
				}
			}
		}
		h.check("attn", h.read(yb, T*heads*hd, h.elem()), want, false)
	})
}

// Embedding gather prologue + copy.
func TestFusedEmbed(t *testing.T) {
	const V, K = 20, 64
	forActs(t, func(t *testing.T, h *harness) {
		tb, table := h.weight(gguf.TypeQ8_0, V, K, 1)
		ids := []int32{3, 19, 0, 3}
		yb := h.zeros(len(ids)*K, h.elem())
		k, err := Compose("embed", []Prologue{&Embed{Table: gguf.TypeQ8_0, K: K}}, &Copy{N: K, Segs: 1, DstStride: K, Out: h.elem(), Gathered: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, len(ids), Binding{"table": backend.Buf(tb), "ids": backend.Buf(h.ids(ids)), "y": backend.Buf(yb)})
		var want []float64
		for _, id := range ids {
			want = append(want, table[int(id)*K:int(id+1)*K]...)
		}
		h.check("embd", h.read(yb, len(ids)*K, h.elem()), want, false)
	})
}

// Row epilogues (softmax, reduce ladder) and gather/scatter copies.
func TestRowEpiloguesAndGatherScatter(t *testing.T) {
	const N, T = 37, 3
	forActs(t, func(t *testing.T, h *harness) {
		xb, x := h.act(h.randn(T*N, 2))
		yb := h.zeros(T*N, h.elem())
		k, err := Compose("softmax", nil, &Copy{N: N, Segs: 1, SrcStride: N, DstStride: N, In: h.elem(), Out: h.elem(), SIMD: true}, []Epilogue{&Softmax{}})
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, T, Binding{"x": backend.Buf(xb), "y": backend.Buf(yb)})
		var want []float64
		for r := 0; r < T; r++ {
			row := x[r*N : (r+1)*N]
			m, s := math.Inf(-1), 0.0
			for _, v := range row {
				m = math.Max(m, v)
			}
			for _, v := range row {
				s += math.Exp(v - m)
			}
			for _, v := range row {
				want = append(want, math.Exp(v-m)/s)
			}
		}
		h.check("softmax", h.read(yb, T*N, h.elem()), want, false)
		for _, op := range []Op{OpAdd, OpMax, OpMin} {
			rb := h.zeros(T, Float)
			k, err := Compose("reduce", nil, &Copy{N: N, Segs: 1, SrcStride: N, DstStride: 1, In: h.elem(), Out: Float}, []Epilogue{&Reduce{Op: op}})
			if err != nil {
				t.Fatal(err)
			}
			h.run(k, T, Binding{"x": backend.Buf(xb), "y": backend.Buf(rb)})
			var want []float64
			for r := 0; r < T; r++ {
				acc := x[r*N]
				for _, v := range x[r*N+1 : (r+1)*N] {
					switch op {
					case OpAdd:
						acc += v
					case OpMax:
						acc = math.Max(acc, v)
					case OpMin:
						acc = math.Min(acc, v)
					}
				}
				want = append(want, acc)
			}
			h.check(fmt.Sprint("reduce ", op), h.read(rb, T, Float), want, false)
		}
		idx := []int32{2, 0, 1}
		for _, mode := range []CopyMode{CopyGather, CopyScatter} {
			yb := h.zeros(T*N, h.elem())
			k, err := Compose("move", nil, &Copy{Mode: mode, N: N, Segs: 1, SrcStride: N, DstStride: N, In: h.elem(), Out: h.elem()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			h.run(k, T, Binding{"x": backend.Buf(xb), "index": backend.Buf(h.ids(idx)), "y": backend.Buf(yb)})
			want := make([]float64, T*N)
			for r, i := range idx {
				src, dst := int(i), r
				if mode == CopyScatter {
					src, dst = r, int(i)
				}
				copy(want[dst*N:(dst+1)*N], x[src*N:(src+1)*N])
			}
			h.check(fmt.Sprint("copy mode ", mode), h.read(yb, T*N, h.elem()), want, false)
		}
	})
}

// The fused CPU implementation is bit-identical for any thread count.
func TestFusedDeterministicAcrossThreads(t *testing.T) {
	const K, N, T = 256, 61, 13
	var ref []float32
	for _, threads := range []int{1, 2, 3, 7} {
		h := newHarness(t, false, threads)
		xb, _ := h.act(h.randn(T*K, 1))
		gb, _ := h.weight(gguf.TypeF32, 1, K, 1)
		w0b, _ := h.weight(gguf.TypeQ4_K, N, K, 0.1)
		w1b, _ := h.weight(gguf.TypeQ8_0, N, K, 0.1)
		yb := h.zeros(T*N, Float)
		k, err := Compose("ffn", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-6}},
			&Gemv{Types: []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ8_0}, K: K, N: []int{N}, In: Float, Out: Float, Pair: true, Rows: 2},
			[]Epilogue{SwiGLU{}})
		if err != nil {
			t.Fatal(err)
		}
		h.run(k, T, Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb), "w0": backend.Buf(w0b), "w1": backend.Buf(w1b), "y0": backend.Buf(yb)})
		got := h.read(yb, T*N, Float)
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
				t.Fatalf("threads %d: [%d] = %g, 1 thread gave %g", threads, i, got[i], ref[i])
			}
		}
	}
}
