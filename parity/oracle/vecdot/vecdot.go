// Package vecdot is the float64 oracles' model of the activation rounding
// that llama.cpp's CPU backend applies before a matrix product: each row
// of activations is quantized to the weight's vec_dot_type (f16, bf16,
// Q8_0 or Q8_K) and the product uses the rounded values.
//
// It is the judge's own copy of those rules, written from ggml's
// definitions and independently of the kernels it judges
// (backend/ggmlnum): every float32 operation of ggml is evaluated in
// float64, where it is exact, and rounded to float32 once (a single
// float32 product, quotient or conversion rounded this way is the
// correctly rounded float32 result, since float64 has more than twice
// float32's precision), and the f16 and bf16 roundings are a generic
// round-to-nearest-even onto a binary format. The tests hold it equal, bit
// for bit, to ggmlnum.RoundForDot.
//
// It is a leaf package (math and gguf's type constants only) so that both
// the model-level oracle (parity/oracle) and the op-level conformance
// suite (backend/backendtest) use this one copy.
package vecdot

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// Class is the rounding a weight type's vec_dot_type applies.
type Class int

const (
	// None: F32 weights multiply the activations as they are.
	None Class = iota
	// F16: each value rounded to IEEE half (F16 weights).
	F16
	// BF16: each value rounded to bfloat16 (BF16 weights).
	BF16
	// Q8_0: blocks of 32 quantized as ggml's x86 quantize_row_q8_0 (Q4_0,
	// Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL weights).
	Q8_0
	// Q8_K: blocks of 256 quantized as quantize_row_q8_K (k-quants).
	Q8_K
)

// String returns the vec_dot_type's name: "f32", "f16", "bf16", "q8_0",
// "q8_K".
func (c Class) String() string {
	return [...]string{"f32", "f16", "bf16", "q8_0", "q8_K"}[c]
}

// Block is the number of values rounded together (1 for elementwise
// classes).
func (c Class) Block() int {
	switch c {
	case Q8_0:
		return 32
	case Q8_K:
		return 256
	}
	return 1
}

// ClassOf returns the rounding class of weights of type t. Types ggml
// pairs with Q8_1 activations (Q4_1, Q5_1) are modelled as Q8_0: the
// quants and scale of Q8_1 are Q8_0's.
func ClassOf(t gguf.Type) Class {
	switch t {
	case gguf.TypeF32:
		return None
	case gguf.TypeF16:
		return F16
	case gguf.TypeBF16:
		return BF16
	case gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0, gguf.TypeIQ4_NL:
		return Q8_0
	}
	return Q8_K
}

// Round rounds one row of activations in place as llama.cpp's CPU backend
// prepares it for a product with weights of type t, and leaves the widened
// values in x. Every value is first rounded to float32 (the paths store
// float32 or narrower). Quantized classes round whole blocks (a tail
// shorter than a block is only rounded to float32); a block whose scale
// is zero becomes +0.
func Round(t gguf.Type, x []float64) {
	for i, v := range x {
		x[i] = f32(v)
	}
	c := ClassOf(t)
	switch c {
	case F16:
		for i, v := range x {
			x[i] = roundF16(v)
		}
	case BF16:
		for i, v := range x {
			x[i] = roundBF16(v)
		}
	case Q8_0:
		for b := 0; b+32 <= len(x); b += 32 {
			q8_0(x[b : b+32])
		}
	case Q8_K:
		for b := 0; b+256 <= len(x); b += 256 {
			q8_K(x[b : b+256])
		}
	}
}

// f32 rounds v to float32 (nearest even) and widens it back.
func f32(v float64) float64 { return float64(float32(v)) }

// roundBinary rounds v to the nearest number with p significant bits whose
// exponent is at least emin (below it, the subnormal spacing
// 2^(emin−p+1)), ties to even; magnitudes that round past the largest
// finite value, (2 − 2^(1−p))·2^emax, become ±Inf. Every step is exact in
// float64 for the formats used here.
func roundBinary(v float64, p, emin, emax int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	_, e := math.Frexp(v) // |v| = f·2^e, 1/2 ≤ f < 1: leading bit 2^(e−1)
	lead := max(e-1, emin)
	ulp := math.Ldexp(1, lead-p+1)
	r := math.RoundToEven(v/ulp) * ulp
	if math.Abs(r) > math.Ldexp(2-math.Ldexp(1, 1-p), emax) {
		return math.Copysign(math.Inf(1), v)
	}
	if r == 0 {
		return math.Copysign(0, v)
	}
	return r
}

// roundF16 rounds to IEEE binary16 (11 significant bits, exponents
// −14…15).
func roundF16(v float64) float64 { return roundBinary(v, 11, -14, 15) }

// roundBF16 rounds to bfloat16 (8 significant bits, float32's exponents).
func roundBF16(v float64) float64 { return roundBinary(v, 8, -126, 127) }

// q8_0 replaces a block of 32 float32 values by its Q8_0 rounding, the
// rule of ggml's x86 quantize_row_q8_0 (the activations' quantizer; the
// reference quantizer for weights rounds half away from zero instead):
// amax = max|x|, d = f16(float32(amax/127)), id = float32(127/amax),
// q = nearest-even(float32(x·id)), x̂ = q·d (exact: 7 × 11 bits).
func q8_0(x []float64) {
	var amax float64
	for _, v := range x {
		amax = max(amax, math.Abs(v))
	}
	d := roundF16(f32(amax / 127))
	if d == 0 {
		zero(x)
		return
	}
	id := f32(127 / amax)
	for i, v := range x {
		x[i] = quant(f32(v*id)) * d
	}
}

// q8_K replaces a block of 256 float32 values by its Q8_K rounding
// (quantize_row_q8_K): m = the first element of largest magnitude,
// iscale = float32(−127/m), q = min(127, nearest-even(float32(iscale·x))),
// d = float32(1/iscale), x̂ = float32(d·q).
func q8_K(x []float64) {
	var amax, m float64
	for _, v := range x {
		if a := math.Abs(v); a > amax {
			amax, m = a, v
		}
	}
	if amax == 0 {
		zero(x)
		return
	}
	iscale := f32(-127 / m)
	d := f32(1 / iscale)
	if d == 0 { // iscale overflowed: every quant is scaled by zero
		zero(x)
		return
	}
	for i, v := range x {
		q := min(127, quant(f32(iscale*v)))
		x[i] = f32(d * q)
	}
}

// quant rounds v to the nearest integer, ties to even: an int8 quant,
// which has no negative zero.
func quant(v float64) float64 {
	if r := math.RoundToEven(v); r != 0 {
		return r
	}
	return 0
}

func zero(x []float64) {
	for i := range x {
		x[i] = 0
	}
}
