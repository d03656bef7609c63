package cpu_test

import (
	"fmt"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
)

// BenchmarkGEMV times one matmul of an ff×d-shaped weight (T = 1) per
// weight dtype; bytes/s is weight bytes read.
func BenchmarkGEMV(b *testing.B) {
	be := cpu.New(backend.Options{})
	const K, N = 4864, 896
	for _, wt := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		b.Run(fmt.Sprint(wt), func(b *testing.B) {
			rb, _ := gguf.RowBytes(wt, K)
			src := make([]float32, K*N)
			for i := range src {
				src[i] = float32(i%7-3) * 0.01
			}
			data, err := gguf.Quantize(wt, src)
			if err != nil {
				b.Skip(err)
			}
			w, _ := be.Wrap(data)
			x, _ := be.Alloc(4 * K)
			y, _ := be.Alloc(4 * N)
			k, err := be.Load(backend.KernelSpec{Name: backend.OpMatMul, Weight: wt})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(rb * N))
			for b.Loop() {
				enc := be.Begin()
				enc.Dispatch(k, backend.Grid{X: N}, backend.Buf(y), backend.Buf(x), backend.Buf(w), backend.Int(K), backend.Int(N), backend.Int(1))
				if err := enc.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
