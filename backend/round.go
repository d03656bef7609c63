package backend

import (
	"math"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// RoundForDot rounds one row of activations in place the way llama.cpp's
// CPU backend quantizes it for a dot product with weights of type t (its
// vec_dot_type), then widens it back: the x̂ of OpMatMulQ. Whole blocks are
// rounded; for quantized types the row length must be a multiple of the
// block (32, or 256 for k-quants). Oracles use it to model OpMatMulQ.
func RoundForDot(t gguf.Type, x []float32) {
	switch t {
	case gguf.TypeF32:
	case gguf.TypeF16:
		for i, v := range x {
			x[i] = gguf.F16ToF32(gguf.F32ToF16(v))
		}
	case gguf.TypeBF16:
		for i, v := range x {
			x[i] = gguf.BF16ToF32(gguf.F32ToBF16(v))
		}
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ5_1:
		for b := 0; b+32 <= len(x); b += 32 {
			roundQ8_0(x[b : b+32])
		}
	default: // k-quants
		for b := 0; b+256 <= len(x); b += 256 {
			roundQ8_K(x[b : b+256])
		}
	}
}

// roundQ8_0 replaces a block of 32 by its Q8_0 quantization, dequantized,
// with the rule of ggml's x86 quantize_row_q8_0 (ggmlnum.QuantizeQ8_0):
// d = f16(max|x|/127), q = nearest-even(x·(127/max|x|)), x̂ = q·d.
func roundQ8_0(x []float32) {
	var q [32]int8
	var d [1]float32
	ggmlnum.QuantizeQ8_0(x, q[:], d[:])
	for i := range x {
		x[i] = float32(q[i]) * d[0]
	}
}

// roundQ8_K replaces a block of 256 by its Q8_K quantization, dequantized:
// m = the element of largest magnitude, s = −127/m, q = min(127,
// nearest-even(s·x)), x̂ = (1/s)·q in float32.
func roundQ8_K(x []float32) {
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, m = a, v
		}
	}
	if amax == 0 {
		clear(x)
		return
	}
	s := -127 / m
	d := 1 / s
	for i, v := range x {
		q := min(127, math.RoundToEven(float64(s*v)))
		x[i] = d * float32(q)
	}
}

// RopeAngles writes the rotation angles of RoPE at position pos into
// theta[i], i < len(theta) (= ropeDim/2), computed as llama.cpp computes
// them: s = float32(base^(−2/ropeDim)), θ_0 = pos, θ_{i+1} = θ_i·s with
// every product rounded to float32. (The exact angle is pos·base^(−2i/ropeDim);
// the float32 recurrence drifts from it by a few ulps per step, which is
// what llama.cpp rotates by.) Oracles use it to model OpRope.
func RopeAngles(pos int, base float32, ropeDim int, theta []float32) {
	s := float32(math.Pow(float64(base), float64(float32(-2)/float32(ropeDim))))
	th := float32(pos)
	for i := range theta {
		theta[i] = th
		th *= s
	}
}
