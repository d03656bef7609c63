package cpu_test

import (
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
)

// BenchmarkGEMM times a prefill-shaped matmul (T = 16) on Q8_0 weights.
func BenchmarkGEMM(b *testing.B) {
	be := cpu.New(backend.Options{})
	const K, N, T = 896, 1024, 16
	src := make([]float32, K*N)
	for i := range src {
		src[i] = float32(i%7-3) * 0.01
	}
	data, _ := gguf.Quantize(gguf.TypeQ8_0, src)
	w, _ := be.Wrap(data)
	x, _ := be.Alloc(4 * K * T)
	y, _ := be.Alloc(4 * N * T)
	k, _ := be.Load(backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeQ8_0})
	for b.Loop() {
		enc := be.Begin()
		enc.Dispatch(k, backend.Grid{X: N}, backend.Buf(y), backend.Buf(x), backend.Buf(w), backend.Int(K), backend.Int(N), backend.Int(T))
		if err := enc.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
