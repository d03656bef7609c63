package ggmlnum

import (
	"os"
	"syscall"
	"testing"
)

// BenchmarkF16RowsMapped streams DotF16Rows over a mapped file
// (METALLIC_BENCH_MODEL, e.g. a synth qwen2.5-0.5b F16 GGUF: its bytes
// read as f16 rows of 896, 4864 rows a call, as a decode step's
// gate/up projections), reporting the bandwidth reached from the page
// cache through 4 KiB pages, which is where a decode step's weights live.
func BenchmarkF16RowsMapped(b *testing.B) {
	path := os.Getenv("METALLIC_BENCH_MODEL")
	if path == "" {
		b.Skip("METALLIC_BENCH_MODEL is not set: name a large file (a real-size GGUF) to stream")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Munmap(data)
	const k, n = 896, 4864
	rb := 2 * k
	x := make([]float32, k)
	for i := range x {
		x[i] = float32(i%7) * 0.25
	}
	out := make([]float32, n)
	calls := (len(data) - 4096) / (n * rb)
	b.SetBytes(int64(calls * n * rb))
	for b.Loop() {
		for c := range calls {
			DotF16Rows(out, data[4096+c*n*rb:], rb, x)
		}
	}
}
