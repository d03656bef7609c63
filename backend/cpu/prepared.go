package cpu

import "github.com/metallic-go/metallic/backend"

// prepared is what a kernel's prep makes once per dispatch for every work
// item to read: the activations loaded as float32 (and rounded for the
// weight's dot product), or quantized to int8 blocks with their scales
// and 16-value sums. Its slices are reused from dispatch to dispatch (a
// backend runs one dispatch at a time), so preparing allocates nothing
// once they have grown.
type prepared struct {
	xs   []float32 // activations [T, K] as float32
	xb   []uint16  // xs as bf16 bits (BF16 weights)
	xq   []int8    // quantized activations [T, K] (Q8_0 tiles: padded to a multiple of 4 tokens)
	xu   []byte    // xq + 128 as bytes (the VNNI kernels' unsigned operand)
	xd   []float32 // block scales [T, K/block]
	xsum []int32   // sums of each 16 quants [T, K/16] (k-quants)
	// items is the item function the prep chose (nil: the kernel's own).
	items func(backend.CPUCall, *prepared)
}

// grow returns s resized to n, reusing its memory when it is large enough.
func grow[E any](s []E, n int) []E {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]E, n)
}
