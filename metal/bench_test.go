package metal

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// kernelCase is one built-in dispatch to time, at the shapes of a
// qwen2.5-0.5b forward (d 896, ff 4864, 14/2 heads of 64).
type kernelCase struct {
	name  string
	spec  backend.KernelSpec
	grid  backend.Grid
	bytes int64 // bytes the kernel must move
	// args allocates the dispatch's buffers on be (freed with the test).
	args func(t testing.TB, be backend.Backend, rng *rand.Rand) []backend.Arg
}

// kernelCases are the decode-step dispatches of a 0.5B layer: the
// projections for a few weight types, RMSNorm, SwiGLU and attention at
// contexts 64 and 1024.
func kernelCases() []kernelCase {
	const d, ff, heads, kvh, hd = 896, 4864, 14, 2, 64
	buf := func(t testing.TB, be backend.Backend, rng *rand.Rand, n int) backend.Buffer {
		x, err := be.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { be.Free(x) })
		data := make([]byte, n)
		for i := 0; i+2 <= n; i += 2 { // small f16 or f32 halves: finite either way
			data[i], data[i+1] = byte(rng.UintN(256)), byte(0x30+rng.UintN(8))
		}
		if err := be.Upload(x, 0, data); err != nil {
			t.Fatal(err)
		}
		return x
	}
	var cs []kernelCase
	for _, w := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K} {
		for _, s := range []struct {
			what string
			K, N int
		}{{"q,o", d, d}, {"gate,up", d, ff}, {"down", ff, d}} {
			rb, _ := gguf.RowBytes(w, s.K)
			K, N := s.K, s.N
			cs = append(cs, kernelCase{
				name: fmt.Sprintf("matmul/%v/%s/K=%d,N=%d", w, s.what, K, N), spec: backend.KernelSpec{Name: backend.OpMatMul, Weight: w, In: backend.F16, Out: backend.F16},
				grid: backend.Grid{X: N}, bytes: int64(rb*N + 2*(K+N)),
				args: func(t testing.TB, be backend.Backend, rng *rand.Rand) []backend.Arg {
					f := make([]float32, K*N)
					for i := range f {
						f[i] = float32(rng.NormFloat64() * 0.05)
					}
					q, err := gguf.Quantize(w, f)
					if err != nil {
						t.Fatal(err)
					}
					wb, err := be.Wrap(q)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { be.Free(wb) })
					return []backend.Arg{backend.Buf(buf(t, be, rng, 2*N)), backend.Buf(buf(t, be, rng, 2*K)), backend.Buf(wb),
						backend.Int(K), backend.Int(N), backend.Int(1)}
				},
			})
		}
	}
	cs = append(cs, kernelCase{
		name: fmt.Sprintf("rmsnorm/n=%d", d), spec: backend.KernelSpec{Name: backend.OpRMSNorm, In: backend.F16, Out: backend.F16},
		grid: backend.Grid{X: 1}, bytes: 2*2*d + 4*d,
		args: func(t testing.TB, be backend.Backend, rng *rand.Rand) []backend.Arg {
			return []backend.Arg{backend.Buf(buf(t, be, rng, 2*d)), backend.Buf(buf(t, be, rng, 2*d)), backend.Buf(buf(t, be, rng, 4*d)),
				backend.Int(d), backend.Float(1e-6)}
		},
	}, kernelCase{
		name: fmt.Sprintf("swiglu/n=%d", ff), spec: backend.KernelSpec{Name: backend.OpSwiGLU, In: backend.F16, Out: backend.F16},
		grid: backend.Grid{X: 1}, bytes: 3 * 2 * ff,
		args: func(t testing.TB, be backend.Backend, rng *rand.Rand) []backend.Arg {
			return []backend.Arg{backend.Buf(buf(t, be, rng, 2*ff)), backend.Buf(buf(t, be, rng, 2*ff)), backend.Buf(buf(t, be, rng, 2*ff)), backend.Int(ff)}
		},
	})
	for _, ctx := range []int{64, 1024} {
		cs = append(cs, kernelCase{
			name: fmt.Sprintf("attention/ctx=%d", ctx), spec: backend.KernelSpec{Name: backend.OpAttention, In: backend.F16, Out: backend.F16, KV: backend.F16},
			grid: backend.Grid{X: heads}, bytes: int64(2*2*ctx*kvh*hd + 2*2*heads*hd),
			args: func(t testing.TB, be backend.Backend, rng *rand.Rand) []backend.Arg {
				pos := buf(t, be, rng, 4)
				if err := be.Upload(pos, 0, []byte{byte(ctx - 1), byte((ctx - 1) >> 8), 0, 0}); err != nil {
					t.Fatal(err)
				}
				return []backend.Arg{backend.Buf(buf(t, be, rng, 2*heads*hd)), backend.Buf(buf(t, be, rng, 2*heads*hd)),
					backend.Buf(buf(t, be, rng, 2*ctx*kvh*hd)), backend.Buf(buf(t, be, rng, 2*ctx*kvh*hd)),
					backend.Int(heads), backend.Int(kvh), backend.Int(hd), backend.Buf(pos), backend.Float(0.125)}
			},
		})
	}
	return cs
}

// BenchmarkKernels times each built-in kernel of a 0.5B decode step on
// the GPU from its command buffer's GPU start and end (profiling mode:
// one dispatch per command buffer), and reports the median us/dispatch
// and the GB/s of the bytes it must move. Run it on a Mac:
//
//	go test -run '^$' -bench Kernels -benchtime 50x ./metal
func BenchmarkKernels(b *testing.B) {
	be := gpu(b)
	for _, c := range kernelCases() {
		b.Run(c.name, func(b *testing.B) {
			k, err := be.Load(c.spec)
			if err != nil {
				b.Fatal(err)
			}
			args := c.args(b, be, rand.New(rand.NewPCG(1, 2)))
			if err := be.SetProfiling(true); err != nil {
				b.Fatal(err)
			}
			defer be.SetProfiling(false)
			enc := be.Begin()
			for range b.N {
				enc.Dispatch(k, c.grid, args...)
			}
			if err := enc.Commit(); err != nil {
				b.Fatal(err)
			}
			ts, err := be.Profile()
			if err != nil {
				b.Fatal(err)
			}
			ms := make([]float64, len(ts))
			for i, x := range ts {
				ms[i] = x.Ms
			}
			slices.Sort(ms)
			med := ms[len(ms)/2]
			b.ReportMetric(med*1e3, "us/dispatch")
			b.ReportMetric(float64(c.bytes)/(med*1e-3)/1e9, "GB/s")
		})
	}
}
