package ggmlnum

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// RoundForDot rounds one row of activations in place the way llama.cpp's
// CPU backend quantizes it for a dot product with weights of type t (its
// vec_dot_type), then widens it back: the x̂ of backend.OpMatMulQ.
//   - F32: unchanged;
//   - F16 / BF16: rounded to f16 / bf16, nearest even;
//   - Q4_0, Q5_0, Q8_0, Q4_1, Q5_1, IQ4_NL: Q8_0 blocks of 32 (QuantizeQ8_0),
//     x̂ = q·d;
//   - k-quants (any other type): Q8_K blocks of 256 (QuantizeQ8_K),
//     x̂ = float32(d·q).
//
// Whole blocks are rounded; for quantized types the row length must be a
// multiple of the block (32, or 256 for k-quants). A block whose scale d
// is zero (all zeros, or magnitudes too small for the scale) becomes +0.
func RoundForDot(t gguf.Type, x []float32) {
	switch t {
	case gguf.TypeF32:
	case gguf.TypeF16:
		for i, v := range x {
			x[i] = f16Round(v)
		}
	case gguf.TypeBF16:
		for i, v := range x {
			x[i] = gguf.BF16ToF32(gguf.F32ToBF16(v))
		}
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ5_1, gguf.TypeIQ4_NL:
		roundBlocks(x, 32, QuantizeQ8_0)
	default: // k-quants
		roundBlocks(x, 256, QuantizeQ8_K)
	}
}

// roundBlocks replaces each whole block of x by its quantization,
// widened back as d·q rounded to float32.
func roundBlocks(x []float32, bs int, quantize func(x []float32, qs []int8, d []float32)) {
	var q [256]int8
	var d [1]float32
	for b := 0; b+bs <= len(x); b += bs {
		blk := x[b : b+bs]
		quantize(blk, q[:bs], d[:])
		if d[0] == 0 {
			clear(blk)
			continue
		}
		for i := range blk {
			blk[i] = d[0] * float32(q[i])
		}
	}
}

// RopeAngles writes the rotation angles of RoPE at position pos into
// theta[i], i < len(theta) (= ropeDim/2), computed as llama.cpp computes
// them: s = float32(base^(−2/ropeDim)), θ_0 = pos, θ_{i+1} = θ_i·s with
// every product rounded to float32. (The exact angle is
// pos·base^(−2i/ropeDim); the float32 recurrence drifts from it by a few
// ulps per step, which is what llama.cpp rotates by.)
func RopeAngles(pos int, base float32, ropeDim int, theta []float32) {
	s := float32(math.Pow(float64(base), float64(float32(-2)/float32(ropeDim))))
	th := float32(pos)
	for i := range theta {
		theta[i] = th
		th *= s
	}
}
