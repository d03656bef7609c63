package kernel

import (
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// BenchmarkRowDots times the row dots over a weight larger than the
// caches (an LM head's shape, 151936 × 896), in GB/s of weight read.
func BenchmarkRowDots(b *testing.B) {
	const n, k = 151936, 896
	for _, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ5_0} {
		b.Run(ty.String(), func(b *testing.B) {
			rb, _ := gguf.RowBytes(ty, k)
			data := make([]byte, n*rb)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < len(data); i += 2 {
				data[i], data[i+1] = byte(rng.IntN(256)), byte(rng.IntN(0x3c))
			}
			x := make([]float32, k)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			rows := make([]int, n)
			for i := range rows {
				rows[i] = i
			}
			out := make([]float32, n)
			scr := make([]float32, k)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for j := 0; j < n; j += 32 {
					rowDots(ty, data, k, rows[j:j+32], x, out[j:j+32], scr)
				}
			}
		})
	}
}

// BenchmarkRowDotsL1 times the row dots on four rows that stay in the L1
// cache: the kernels' compute rate.
func BenchmarkRowDotsL1(b *testing.B) {
	const k = 896
	for _, ty := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ5_0} {
		b.Run(ty.String(), func(b *testing.B) {
			rb, _ := gguf.RowBytes(ty, k)
			data := make([]byte, 4*rb)
			x := make([]float32, k)
			rows := []int{0, 1, 2, 3}
			out := make([]float32, 4)
			b.SetBytes(4 * k) // elements, not bytes
			for b.Loop() {
				rowDots(ty, data, k, rows, x, out, nil)
			}
		})
	}
}

// BenchmarkRowDotsShapes times F16 row dots on the 0.5B model's projection
// shapes, 24 layers' worth of each so that the weights stream from memory,
// in spans of rows as the GEMV's CPU twin computes them.
func BenchmarkRowDotsShapes(b *testing.B) {
	shapes := []struct {
		name       string
		n, k, rows int
	}{{"qkv", 1152, 896, 128}, {"o", 896, 896, 128}, {"gate", 4864, 896, 256}, {"down", 896, 4864, 128}}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			rb, _ := gguf.RowBytes(gguf.TypeF16, s.k)
			data := make([]byte, 24*s.n*rb)
			for i := range data {
				data[i] = byte(i * 7 % 61)
			}
			x := make([]float32, s.k)
			rows := make([]int, 24*s.n)
			for i := range rows {
				rows[i] = i
			}
			out := make([]float32, 24*s.n)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for j := 0; j < len(rows); j += s.rows {
					rowDots(gguf.TypeF16, data, s.k, rows[j:j+s.rows], x, out[j:j+s.rows], nil)
				}
			}
		})
	}
}

// BenchmarkRowDotsKQuants times the k-quant row dots on the 0.5B model's
// down projection shape (896 × 4864), 24 layers' worth, in GB/s.
func BenchmarkRowDotsKQuants(b *testing.B) {
	const n, k = 24 * 896, 4864
	for _, ty := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		b.Run(ty.String(), func(b *testing.B) {
			rb, _ := gguf.RowBytes(ty, k)
			data := make([]byte, n*rb)
			for i := range data {
				data[i] = byte(i * 7 % 61)
			}
			x := make([]float32, k)
			rows := make([]int, n)
			for i := range rows {
				rows[i] = i
			}
			out := make([]float32, n)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for j := 0; j < n; j += 32 {
					rowDots(ty, data, k, rows[j:j+32], x, out[j:j+32], nil)
				}
			}
		})
	}
}
