package cpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// TestBF16MatMulMatchesDefinitions: OpMatMulQ (ggml-cpu) on BF16 weights
// gives every output the bits of its one-output definition — DotBF16Tiny
// for a prompt inside tinyBLAS's gates (T ≥ 2, K % 32 = 0, N % 4 = 0),
// DotBF16 otherwise, x rounded to bf16 — for tile and leftover shapes and
// one or two threads.
func TestBF16MatMulMatchesDefinitions(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for _, threads := range []int{1, 2} {
		b := cpu.New(backend.Options{Threads: threads})
		k, err := b.Load(backend.KernelSpec{Name: backend.OpMatMulQ, Numerics: backend.GGMLCPU, Weight: gguf.TypeBF16})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct{ K, N, T int }{
			{128, 12, 1}, {128, 12, 2}, {128, 12, 5}, {128, 40, 9}, {96, 20, 4},
			{128, 13, 6}, {100, 12, 5}, {200, 9, 1}, {64, 4, 3},
		} {
			t.Run(fmt.Sprintf("threads=%d/K=%d/N=%d/T=%d", threads, s.K, s.N, s.T), func(t *testing.T) {
				w := make([]float32, s.N*s.K)
				for i := range w {
					w[i] = gguf.BF16ToF32(gguf.F32ToBF16(float32(rng.NormFloat64())))
				}
				x := make([]float32, s.T*s.K)
				xr := make([]float32, len(x))
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					xr[i] = gguf.BF16ToF32(gguf.F32ToBF16(x[i]))
				}
				data, err := gguf.Quantize(gguf.TypeBF16, w)
				if err != nil {
					t.Fatal(err)
				}
				wb, _ := b.Wrap(data)
				xb, _ := b.Alloc(4 * len(x))
				yb, _ := b.Alloc(4 * s.T * s.N)
				xbytes := make([]byte, 4*len(x))
				for i, v := range x {
					binary.LittleEndian.PutUint32(xbytes[4*i:], math.Float32bits(v))
				}
				if err := b.Upload(xb, 0, xbytes); err != nil {
					t.Fatal(err)
				}
				enc := b.Begin()
				enc.Dispatch(k, backend.Grid{X: s.N}, backend.Buf(yb), backend.Buf(xb), backend.Buf(wb), backend.Int(s.K), backend.Int(s.N), backend.Int(s.T))
				if err := enc.Commit(); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, 4*s.T*s.N)
				if err := b.Download(got, yb, 0); err != nil {
					t.Fatal(err)
				}
				dot := ggmlnum.DotBF16
				if s.T >= 2 && s.K%32 == 0 && s.N%4 == 0 {
					dot = ggmlnum.DotBF16Tiny
				}
				for tk := range s.T {
					for n := range s.N {
						g := math.Float32frombits(binary.LittleEndian.Uint32(got[4*(tk*s.N+n):]))
						want := dot(w[n*s.K:(n+1)*s.K], xr[tk*s.K:(tk+1)*s.K])
						if math.Float32bits(g) != math.Float32bits(want) {
							t.Errorf("token %d row %d: got %g (%#08x), want %g (%#08x)", tk, n, g, math.Float32bits(g), want, math.Float32bits(want))
						}
					}
				}
			})
		}
	}
}

// BenchmarkBF16GEMV times OpMatMulQ (ggml-cpu) on an ff×d-shaped BF16
// weight with T = 1 (decode) and T = 64 (a prompt); bytes/s is weight
// bytes read once.
func BenchmarkBF16GEMV(b *testing.B) {
	be := cpu.New(backend.Options{})
	const K, N = 4864, 896
	src := make([]float32, K*N)
	for i := range src {
		src[i] = float32(i%7-3) * 0.01
	}
	data, err := gguf.Quantize(gguf.TypeBF16, src)
	if err != nil {
		b.Fatal(err)
	}
	w, _ := be.Wrap(data)
	k, err := be.Load(backend.KernelSpec{Name: backend.OpMatMulQ, Numerics: backend.GGMLCPU, Weight: gguf.TypeBF16})
	if err != nil {
		b.Fatal(err)
	}
	for _, T := range []int{1, 64} {
		b.Run(fmt.Sprintf("T=%d", T), func(b *testing.B) {
			x, _ := be.Alloc(4 * K * T)
			y, _ := be.Alloc(4 * N * T)
			b.SetBytes(int64(2 * K * N))
			for b.Loop() {
				enc := be.Begin()
				enc.Dispatch(k, backend.Grid{X: N}, backend.Buf(y), backend.Buf(x), backend.Buf(w), backend.Int(K), backend.Int(N), backend.Int(T))
				if err := enc.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
