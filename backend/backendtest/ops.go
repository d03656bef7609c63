package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The op tests below check, against float64 oracles, what the conformance
// suite does not reach: every GEMM tile edge and T up to 512, Q8_K,
// unaligned arguments (element and scalar paths, 2-byte aligned weights),
// mixed storage dtypes (f16 in → f32 logits, f16 KV cache under f32
// activations), long contexts and head dims up to the kernel's limit, the
// plain RoPE angle, quantized γ and bias, and rows split over several
// threadgroups (blocks). Each GPU backend runs them with its kernels
// executed on the host (CI) and on its device (cuda's TestBuiltinGPU*,
// metal's TestGPUOps*).

func OpsMatMul(t *testing.T, open Ops) {
	F32, F16 := backend.F32, backend.F16
	for _, c := range []struct {
		w           gguf.Type
		K, N, T     int
		in, out     backend.DType
		xpad, wOff  int
		description string
	}{
		{gguf.TypeF16, 256, 19, 1, F32, F32, 0, 0, "gemv"},
		{gguf.TypeF16, 256, 19, 2, F16, F16, 0, 0, "gemm, one partial tile"},
		{gguf.TypeF16, 256, 19, 9, F32, F32, 0, 0, "gemm, 8+1 tokens"},
		{gguf.TypeF16, 256, 19, 37, F16, F32, 0, 0, "gemm, f16 in, f32 out (logits)"},
		{gguf.TypeQ4_K, 512, 19, 37, F32, F16, 0, 0, "k-quant gemm"},
		{gguf.TypeQ6_K, 256, 7, 512, F32, F32, 0, 0, "T = 512"},
		{gguf.TypeF32, 64, 5, 512, F16, F16, 0, 0, "T = 512, f16"},
		{gguf.TypeQ8_K, 256, 9, 1, F32, F32, 0, 0, "Q8_K gemv"},
		{gguf.TypeQ8_K, 512, 9, 5, F16, F16, 0, 0, "Q8_K gemm"},
		{gguf.TypeQ2_K, 768, 6, 1, F32, F32, 0, 0, "three super-blocks"},
		{gguf.TypeQ3_K, 768, 6, 3, F32, F32, 0, 0, "three super-blocks"},
		{gguf.TypeQ5_K, 768, 6, 1, F16, F16, 0, 0, "three super-blocks"},
		{gguf.TypeQ5_0, 4864, 3, 1, F32, F32, 0, 0, "long row: every lane unrolls"},
		{gguf.TypeBF16, 4864, 3, 2, F32, F32, 0, 0, "long row"},
		{gguf.TypeF16, 67, 5, 1, F32, F32, 0, 0, "K not a multiple of 8: element path"},
		{gguf.TypeF16, 67, 5, 3, F16, F16, 0, 0, "K not a multiple of 8: element path"},
		{gguf.TypeF16, 256, 5, 1, F32, F32, 0, 2, "weight 2-byte aligned: element path"},
		{gguf.TypeF32, 256, 5, 3, F32, F32, 0, 4, "weight 4-byte aligned: element path"},
		{gguf.TypeQ4_0, 256, 5, 1, F32, F32, 4, 0, "x 4-byte aligned: scalar x loads"},
		{gguf.TypeQ4_0, 256, 5, 9, F16, F16, 2, 0, "x 2-byte aligned: scalar x loads"},
		{gguf.TypeQ8_0, 256, 5, 1, F32, F32, 0, 2, "Q8_0 at a 2-byte offset"},
		{gguf.TypeQ4_1, 256, 5, 1, F32, F32, 0, 2, "4-byte loads at a 2-byte offset"},
		{gguf.TypeQ5_1, 256, 5, 3, F32, F32, 0, 2, "4-byte loads at a 2-byte offset"},
		{gguf.TypeQ8_K, 256, 5, 1, F32, F32, 0, 2, "4-byte loads at a 2-byte offset"},
		{gguf.TypeQ2_K, 256, 5, 3, F32, F32, 0, 2, "4-byte loads at a 2-byte offset"},
		{gguf.TypeQ4_K, 256, 5, 1, F16, F16, 0, 2, "4-byte loads at a 2-byte offset"},
		{gguf.TypeQ5_K, 256, 5, 1, F32, F32, 0, 6, "4-byte loads at a 6-byte offset"},
	} {
		name := fmt.Sprintf("%v/K=%d,N=%d,T=%d/%v→%v/xpad=%d,woff=%d", c.w, c.K, c.N, c.T, c.in, c.out, c.xpad, c.wOff)
		t.Run(name, func(t *testing.T) {
			h := newOpRun(t, open, 1)
			x, xs := h.act(h.uniform(c.T*c.K, 1), c.in, c.xpad)
			w, wv := h.weight(c.w, c.K, c.N, 1, c.wOff)
			out := h.out(c.T*c.N, c.out)
			spec := backend.KernelSpec{Name: backend.OpMatMul, Weight: c.w, In: c.in, Out: c.out}
			if err := h.run(spec, backend.Grid{X: c.N}, out, x, w, backend.Int(c.K), backend.Int(c.N), backend.Int(c.T)); err != nil {
				t.Fatal(err)
			}
			got, raw := h.read(out, c.T*c.N, c.out)
			ref, mag := oracleMatMul(wv, xs, c.K, c.N, c.T)
			checkOracle(t, c.description, got, ref, mag, storageBound(c.out, 1e-6))
			if c.out == F32 {
				// The f16-output kernel does the same arithmetic and rounds
				// once at the store: its bits are the f32 result rounded.
				spec.Out = F16
				o16 := h.out(c.T*c.N, F16)
				if err := h.run(spec, backend.Grid{X: c.N}, o16, x, w, backend.Int(c.K), backend.Int(c.N), backend.Int(c.T)); err != nil {
					t.Fatal(err)
				}
				_, raw16 := h.read(o16, c.T*c.N, F16)
				for i := range c.T * c.N {
					f := math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
					if want, got := gguf.F32ToF16(f), uint16(raw16[2*i])|uint16(raw16[2*i+1])<<8; got != want {
						t.Fatalf("element %d: f16 output %#04x, f32 output %v rounds to %#04x", i, got, f, want)
					}
				}
			}
		})
	}
}

// oracleAttention is the float64 causal GQA attention of the stored values.
func oracleAttention(q, k, v []float64, heads, kvh, hd, T, pos0 int, scale float64) (ref, mag []float64) {
	kvd := kvh * hd
	ref, mag = make([]float64, T*heads*hd), make([]float64, T*heads*hd)
	for t := range T {
		for h := range heads {
			g := h / (heads / kvh)
			n := pos0 + t + 1
			s := make([]float64, n)
			mx := math.Inf(-1)
			for j := range n {
				var d float64
				for i := range hd {
					d += q[(t*heads+h)*hd+i] * k[j*kvd+g*hd+i]
				}
				s[j] = d * scale
				mx = max(mx, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			o := (t*heads + h) * hd
			for j := range s {
				p := s[j] / sum
				for i := range hd {
					ref[o+i] += p * v[j*kvd+g*hd+i]
					mag[o+i] += p * math.Abs(v[j*kvd+g*hd+i])
				}
			}
		}
	}
	return ref, mag
}

func OpsAttention(t *testing.T, open Ops) {
	F32, F16 := backend.F32, backend.F16
	for _, c := range []struct {
		heads, kvh, hd, T, pos0 int
		in, kv, out             backend.DType
	}{
		{4, 1, 256, 2, 2000, F32, F16, F32},  // long context, largest head dim, f16 cache under f32
		{6, 3, 96, 3, 70, F16, F32, F16},     // three dims per lane, f32 cache under f16
		{2, 2, 66, 2, 40, F32, F32, F32},     // hd not a multiple of 4: scalar key loads
		{2, 1, 32, 1, 0, F16, F16, F32},      // a single key
		{8, 2, 64, 64, 0, F32, F32, F16},     // a prompt from position 0
		{14, 2, 64, 1, 191, F16, F16, F16},   // qwen2.5-0.5b decode shape
		{3, 3, 128, 1, 127, F32, F16, F16},   // exactly four SIMD groups of keys
		{3, 3, 128, 1, 128, F32, F16, F16},   // one key past them
		{5, 5, 8, 1, 4095, F32, F32, F32},    // many tiles per SIMD group, tiny rows
		{2, 1, 128, 3, 1000, F32, F32, F32},  // mid context
		{7, 1, 128, 5, 40, F16, F16, F16},    // as the suite, f16
		{1, 1, 256, 1, 31, F32, F16, F32},    // one tile
		{2, 2, 64, 1, 33, F32, F32, F32},     // two tiles, second partial
		{4, 2, 64, 17, 300, F16, F32, F32},   // mixed
		{16, 8, 128, 2, 515, F16, F16, F16},  // llama-like GQA
		{2, 1, 192, 2, 64, F32, F32, F32},    // six dims per lane
		{2, 2, 252, 2, 10, F32, F32, F32},    // near the limit, hd%8 = 4
		{2, 2, 100, 1, 2, F16, F16, F16},     // hd%8 = 4, f16 8-byte loads
		{3, 1, 64, 4, 2, F32, F32, F32},      // more SIMD groups than keys
		{4, 4, 64, 2, 600, F16, F16, F32},    // f16 in and cache, f32 out
		{12, 4, 64, 3, 77, F32, F16, F16},    // three query heads per kv head
		{2, 1, 16, 2, 5, F32, F32, F32},      // head dim below a SIMD group
		{2, 1, 4, 1, 9, F32, F32, F32},       // tiny head dim
		{1, 1, 128, 1, 300, F16, F32, F16},   // one head
		{28, 4, 128, 1, 50, F32, F16, F32},   // 7 query heads per kv head
		{32, 8, 128, 1, 3, F32, F32, F32},    // llama-8B decode shape
		{32, 32, 128, 2, 260, F16, F16, F16}, // no GQA
	} {
		name := fmt.Sprintf("heads=%d,kv=%d,hd=%d,T=%d,pos0=%d/%v,kv%v,%v", c.heads, c.kvh, c.hd, c.T, c.pos0, c.in, c.kv, c.out)
		t.Run(name, func(t *testing.T) {
			h := newOpRun(t, open, 2)
			ctx := c.pos0 + c.T + 2
			kvd := c.kvh * c.hd
			kv, vv := h.uniform(ctx*kvd, 1), h.uniform(ctx*kvd, 1)
			for i := (c.pos0 + c.T) * kvd; i < ctx*kvd; i++ {
				kv[i], vv[i] = 1000, 1000 // past the causal range: must not be read
			}
			q, qs := h.act(h.uniform(c.T*c.heads*c.hd, 1), c.in, 0)
			kc, ks := h.act(kv, c.kv, 0)
			vc, vs := h.act(vv, c.kv, 0)
			out := h.out(c.T*c.heads*c.hd, c.out)
			scale := float32(1 / math.Sqrt(float64(c.hd)))
			spec := backend.KernelSpec{Name: backend.OpAttention, In: c.in, KV: c.kv, Out: c.out}
			if err := h.run(spec, backend.Grid{X: c.T * c.heads}, out, q, kc, vc, backend.Int(c.heads), backend.Int(c.kvh),
				backend.Int(c.hd), h.ints(c.pos0), backend.Float(scale)); err != nil {
				t.Fatal(err)
			}
			got, _ := h.read(out, c.T*c.heads*c.hd, c.out)
			ref, mag := oracleAttention(qs, ks, vs, c.heads, c.kvh, c.hd, c.T, c.pos0, float64(scale))
			checkOracle(t, "attention", got, ref, mag, storageBound(c.out, 4e-6))
		})
	}
	t.Run("hd=512 beyond the limit writes NaN", func(t *testing.T) {
		h := newOpRun(t, open, 3)
		q, _ := h.act(h.uniform(512, 1), F32, 0)
		kc, _ := h.act(h.uniform(512, 1), F32, 0)
		out := h.out(512, F32)
		if err := h.run(backend.KernelSpec{Name: backend.OpAttention}, backend.Grid{X: 1}, out, q, kc, kc, backend.Int(1), backend.Int(1),
			backend.Int(512), h.ints(0), backend.Float(1)); err != nil {
			t.Fatal(err)
		}
		got, _ := h.read(out, 512, F32)
		for i, v := range got {
			if !math.IsNaN(v) {
				t.Fatalf("element %d = %v, want NaN", i, v)
			}
		}
	})
}

func OpsRope(t *testing.T, open Ops) {
	for _, c := range []struct{ heads, hd, rd, pos0, T int }{
		{2, 96, 96, 5000, 2},  // rope dim not a power of two: rounded exponent
		{3, 64, 32, 123, 2},   // partial rotation: dims ≥ 32 copied
		{1, 512, 512, 7, 1},   // more pairs than RP_THREADS: threads loop
		{14, 64, 64, 191, 1},  // qwen2.5-0.5b decode shape
		{2, 128, 128, 0, 17},  // from position 0
		{2, 64, 64, 30000, 1}, // far position: large angles
	} {
		for style := range 2 {
			for _, dt := range acts {
				for _, inPlace := range []bool{false, true} {
					name := fmt.Sprintf("heads=%d,hd=%d,rd=%d,pos0=%d,T=%d,style=%d/%v/inplace=%v", c.heads, c.hd, c.rd, c.pos0, c.T, style, dt, inPlace)
					t.Run(name, func(t *testing.T) {
						h := newOpRun(t, open, 4)
						n := c.T * c.heads * c.hd
						x, xs := h.act(h.uniform(n, 2), dt, 0)
						out := x
						if !inPlace {
							out = h.out(n, dt)
						}
						const base = 1e6
						if err := h.run(backend.KernelSpec{Name: backend.OpRope, In: dt, Out: dt}, backend.Grid{X: c.T * c.heads}, out, x,
							backend.Int(c.heads), backend.Int(c.hd), backend.Int(c.rd), h.ints(c.pos0), backend.Float(base), backend.Int(style)); err != nil {
							t.Fatal(err)
						}
						got, _ := h.read(out, n, dt)
						ref, mag := append([]float64(nil), xs...), make([]float64, n)
						for i := range mag {
							mag[i] = math.Abs(xs[i])
						}
						for tt := range c.T {
							for hh := range c.heads {
								o := (tt*c.heads + hh) * c.hd
								for i := range c.rd / 2 {
									th := float64(c.pos0+tt) * math.Pow(base, -2*float64(i)/float64(c.rd))
									cs, sn := math.Cos(th), math.Sin(th)
									j, k := o+2*i, o+2*i+1
									if style == 1 {
										j, k = o+i, o+i+c.rd/2
									}
									ref[j], ref[k] = xs[j]*cs-xs[k]*sn, xs[j]*sn+xs[k]*cs
									// mag as the plain contract states it, |x_j| + |x_k|:
									// an angle error dθ moves out_k by dθ·(x_j·cos θ − x_k·sin θ),
									// which |x_j·sin θ| + |x_k·cos θ| does not bound.
									mag[j], mag[k] = math.Abs(xs[j])+math.Abs(xs[k]), math.Abs(xs[j])+math.Abs(xs[k])
								}
							}
						}
						// The plain bound: 8u plus the angle's own float32 error
						// 6u·|θ|max (backend/numerics.go).
						checkOracle(t, "rope", got, ref, mag, storageBound(dt, 8*unitRoundoff+6*unitRoundoff*float64(c.pos0+c.T-1)))
					})
				}
			}
		}
	}
}

func OpsRowOps(t *testing.T, open Ops) {
	F32, F16 := backend.F32, backend.F16
	t.Run("rmsnorm", func(t *testing.T) {
		for _, c := range []struct {
			w       gguf.Type
			n, rows int
			in, out backend.DType
		}{
			{gguf.TypeF16, 256, 3, F32, F32}, {gguf.TypeBF16, 100, 2, F16, F16}, {gguf.TypeQ8_0, 256, 2, F32, F16},
			{gguf.TypeQ4_K, 512, 2, F16, F32}, {gguf.TypeF32, 4864, 2, F32, F32}, {gguf.TypeF32, 5, 4, F16, F16},
		} {
			t.Run(fmt.Sprintf("%v/n=%d,rows=%d/%v→%v", c.w, c.n, c.rows, c.in, c.out), func(t *testing.T) {
				h := newOpRun(t, open, 5)
				x, xs := h.act(h.uniform(c.rows*c.n, 2), c.in, 0)
				g, gv := h.weight(c.w, c.n, 1, 1.5, 0)
				out := h.out(c.rows*c.n, c.out)
				const eps = 1e-6
				if err := h.run(backend.KernelSpec{Name: backend.OpRMSNorm, Weight: c.w, In: c.in, Out: c.out}, backend.Grid{X: c.rows},
					out, x, g, backend.Int(c.n), backend.Float(eps)); err != nil {
					t.Fatal(err)
				}
				got, _ := h.read(out, c.rows*c.n, c.out)
				ref, mag := make([]float64, len(got)), make([]float64, len(got))
				for r := range c.rows {
					var ss float64
					for _, v := range xs[r*c.n : (r+1)*c.n] {
						ss += v * v
					}
					s := 1 / math.Sqrt(ss/float64(c.n)+float64(float32(eps)))
					for i := range c.n {
						ref[r*c.n+i] = xs[r*c.n+i] * s * gv[i]
						mag[r*c.n+i] = math.Abs(ref[r*c.n+i])
					}
				}
				checkOracle(t, "rmsnorm", got, ref, mag, storageBound(c.out, float64(c.n+6)*unitRoundoff))
			})
		}
	})
	t.Run("add_bias", func(t *testing.T) {
		for _, c := range []struct {
			w    gguf.Type
			n, T int
		}{{gguf.TypeQ6_K, 512, 3}, {gguf.TypeF16, 4864, 2}, {gguf.TypeQ4_0, 4864, 1}, {gguf.TypeBF16, 33, 2}} {
			for _, dt := range acts {
				t.Run(fmt.Sprintf("%v/n=%d,T=%d/%v", c.w, c.n, c.T, dt), func(t *testing.T) {
					h := newOpRun(t, open, 6)
					x, xs := h.act(h.uniform(c.T*c.n, 2), dt, 0)
					b, bv := h.weight(c.w, c.n, 1, 1, 0)
					if err := h.run(backend.KernelSpec{Name: backend.OpAddBias, Weight: c.w, In: dt, Out: dt}, backend.Grid{X: c.T},
						x, x, b, backend.Int(c.n)); err != nil {
						t.Fatal(err)
					}
					got, _ := h.read(x, c.T*c.n, dt)
					ref, mag := make([]float64, len(got)), make([]float64, len(got))
					for i := range ref {
						ref[i], mag[i] = xs[i]+bv[i%c.n], math.Abs(xs[i])+math.Abs(bv[i%c.n])
					}
					checkOracle(t, "add_bias", got, ref, mag, storageBound(dt, unitRoundoff))
				})
			}
		}
	})
	t.Run("embed", func(t *testing.T) {
		for _, c := range []struct {
			w gguf.Type
			d int
		}{{gguf.TypeF16, 4864}, {gguf.TypeQ4_0, 4864}, {gguf.TypeQ8_K, 1280}, {gguf.TypeQ3_K, 2304}, {gguf.TypeF32, 3}} {
			for _, dt := range acts {
				t.Run(fmt.Sprintf("%v/d=%d/%v", c.w, c.d, dt), func(t *testing.T) {
					h := newOpRun(t, open, 7)
					const vocab, T = 9, 4
					w, wv := h.weight(c.w, c.d, vocab, 1, 0)
					ids := []int{8, 0, 3, 8}
					out := h.out(T*c.d, dt)
					if err := h.run(backend.KernelSpec{Name: backend.OpEmbed, Weight: c.w, Out: dt}, backend.Grid{X: T},
						out, w, h.ints(ids...), backend.Int(c.d)); err != nil {
						t.Fatal(err)
					}
					got, _ := h.read(out, T*c.d, dt)
					ref, mag := make([]float64, len(got)), make([]float64, len(got))
					for tt, id := range ids {
						for i := range c.d {
							ref[tt*c.d+i] = wv[id*c.d+i]
							mag[tt*c.d+i] = math.Abs(ref[tt*c.d+i])
						}
					}
					checkOracle(t, "embed", got, ref, mag, storageBound(dt, 0))
				})
			}
		}
	})
	t.Run("copy", func(t *testing.T) {
		for _, c := range []struct{ in, out backend.DType }{{F32, F16}, {F16, F32}, {F16, F16}, {F32, F32}} {
			t.Run(fmt.Sprintf("%v→%v", c.in, c.out), func(t *testing.T) {
				h := newOpRun(t, open, 8)
				const n, rows, p = 4864, 3, 5
				x, xs := h.act(h.uniform(rows*n, 3), c.in, 0)
				dst := h.out((p+rows+1)*n, c.out)
				if err := h.run(backend.KernelSpec{Name: backend.OpCopy, In: c.in, Out: c.out}, backend.Grid{X: rows}, dst, x,
					backend.Int(n), h.ints(p)); err != nil {
					t.Fatal(err)
				}
				got, _ := h.read(dst, (p+rows+1)*n, c.out)
				for i, v := range got {
					want := 0.0
					if i >= p*n && i < (p+rows)*n {
						want = xs[i-p*n]
						if c.out == F16 {
							want = float64(gguf.F16ToF32(gguf.F32ToF16(float32(want))))
						}
					}
					if v != want {
						t.Fatalf("element %d (row %d): got %v, want %v", i, i/n, v, want)
					}
				}
			})
		}
	})
	t.Run("add,swiglu split rows", func(t *testing.T) {
		for _, dt := range acts {
			h := newOpRun(t, open, 9)
			const n, rows = 4864, 2
			a, as := h.act(h.uniform(rows*n, 3), dt, 0)
			b, bs := h.act(h.uniform(rows*n, 3), dt, 0)
			o1, o2 := h.out(rows*n, dt), h.out(rows*n, dt)
			spec := backend.KernelSpec{In: dt, Out: dt}
			spec.Name = backend.OpAdd
			if err := h.run(spec, backend.Grid{X: rows}, o1, a, b, backend.Int(n)); err != nil {
				t.Fatal(err)
			}
			spec.Name = backend.OpSwiGLU
			if err := h.run(spec, backend.Grid{X: rows}, o2, a, b, backend.Int(n)); err != nil {
				t.Fatal(err)
			}
			g1, _ := h.read(o1, rows*n, dt)
			g2, _ := h.read(o2, rows*n, dt)
			r1, m1, r2, m2 := make([]float64, rows*n), make([]float64, rows*n), make([]float64, rows*n), make([]float64, rows*n)
			for i := range r1 {
				r1[i], m1[i] = as[i]+bs[i], math.Abs(as[i])+math.Abs(bs[i])
				r2[i] = as[i] / (1 + math.Exp(-as[i])) * bs[i]
				m2[i] = math.Abs(r2[i])
			}
			checkOracle(t, "add/"+dt.String(), g1, r1, m1, storageBound(dt, unitRoundoff))
			checkOracle(t, "swiglu/"+dt.String(), g2, r2, m2, storageBound(dt, 8*unitRoundoff))
		}
	})
}
