//go:build linux

package metal

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// TestHostGPUCatches: the host GPU fails a command buffer for what would
// fault or be undefined on a GPU, so a kernel passing the host tests does
// none of it: a write past a buffer's end (into its slack or onto the
// guard page), a write before its start, a write into a const parameter,
// a read past the end, a SIMD-group
// shuffle with lanes elsewhere, a barrier after threads returned. Each
// error reaches Sync naming the dispatch.
func TestHostGPUCatches(t *testing.T) {
	const head = "#include <metal_stdlib>\nusing namespace metal;\n"
	for _, c := range []struct {
		name, body string
		want       string
	}{
		{"write past the end", "y[n - 2] = 1.0f;", "wrote byte 56 of a buffer of 56 bytes"},
		{"write onto the guard page", "y[n] = 1.0f;", "memory fault reading or writing"},
		{"write before the start", "y[-1] = 1.0f;", "wrote byte 4 before a buffer of 56 bytes"},
		{"write into a const parameter", "((device float*)x)[3] = 2.0f;", "wrote into x, a const parameter"},
		{"read past the end", "y[0] = x[n];", "memory fault reading or writing"},
		{"divergent shuffle", "if (tid < 16) { y[tid] = simd_shuffle_xor(x[tid], ushort(1)); }", "while its SIMD group waits at a shuffle"},
		{"barrier after a return", "if (tid == 0) return; threadgroup_barrier(mem_flags::mem_threadgroup);", "threadgroup_barrier after some threads of the block finished"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _, _ := hostBackend(t)
			src := head + "kernel void k(device float* y [[buffer(0)]], device const float* x [[buffer(1)]], constant int& n [[buffer(2)]],\n" +
				"    uint3 tg [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {\n    " + c.body + "\n}\n"
			k, err := b.Load(backend.KernelSpec{Name: "k", MSL: src, Entry: "k", Threads: 32})
			if err != nil {
				t.Fatal(err)
			}
			y, x := mustAlloc(t, b, 56), mustAlloc(t, b, 64) // y ends 8 bytes before its guard page
			enc := b.Begin()
			enc.Dispatch(k, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(x), backend.Int(16))
			if err := enc.Commit(); err != nil {
				t.Fatal(err)
			}
			err = b.Sync()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "dispatch 0 (k)") {
				t.Fatalf("Sync: %v, want a GPU error containing %q", err, c.want)
			}
		})
	}
}
