package gguf

import (
	"fmt"
	"math"
)

// quantizers encode whole blocks: src holds BlockSize elements, dst
// BlockBytes bytes.
var quantizers map[Type]func(src []float32, dst []byte)

func init() {
	quantizers = map[Type]func([]float32, []byte){
		TypeF32:    qF32,
		TypeF16:    func(x []float32, b []byte) { le.PutUint16(b, F32ToF16(x[0])) },
		TypeBF16:   func(x []float32, b []byte) { le.PutUint16(b, F32ToBF16(x[0])) },
		TypeQ8_0:   qQ8_0,
		TypeQ4_0:   qQ4_0,
		TypeQ4_1:   qQ4_1,
		TypeQ5_0:   qQ5_0,
		TypeQ5_1:   qQ5_1,
		TypeQ3_K:   qQ3K,
		TypeQ4_K:   qQ4K,
		TypeQ5_K:   qQ5K,
		TypeQ6_K:   qQ6K,
		TypeIQ4_NL: qIQ4NL,
	}
}

// Quantize encodes src as type t. len(src) must be a multiple of
// t.BlockSize(). The result is deterministic: the same input always gives
// the same bytes. Quantized types reject Inf and NaN inputs; F32, F16 and
// BF16 convert them. Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_NL (CanQuantize).
func Quantize(t Type, src []float32) ([]byte, error) {
	q, ok := quantizers[t]
	if !ok {
		return nil, fmt.Errorf("%w: cannot quantize to %s", ErrUnsupported, t)
	}
	n, err := RowBytes(t, len(src))
	if err != nil {
		return nil, err
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	if bs > 1 {
		for i, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("gguf: cannot quantize %v at index %d to %s", v, i, t)
			}
		}
	}
	out := make([]byte, n)
	for i := 0; i < len(src)/bs; i++ {
		q(src[i*bs:(i+1)*bs], out[i*bb:(i+1)*bb])
	}
	return out, nil
}

func qF32(x []float32, b []byte) { le.PutUint32(b, math.Float32bits(x[0])) }

// roundAway rounds half away from zero, like C's roundf.
func roundAway(x float32) int { return int(math.Round(float64(x))) }

// qQ8_0 uses ggml's reference rule: d = max|x|/127, q = round(x/d).
func qQ8_0(x []float32, b []byte) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	le.PutUint16(b, F32ToF16(d))
	for j, v := range x {
		b[2+j] = byte(int8(roundAway(v * id)))
	}
}

// qQ4_0 uses ggml's reference rule: the element of largest magnitude maps
// to −8, d = that element / −8, q = min(15, trunc(x/d + 8.5)).
func qQ4_0(x []float32, b []byte) {
	d := signedMax(x) / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	le.PutUint16(b, F32ToF16(d))
	for j := 0; j < 16; j++ {
		q0 := min(15, int(x[j]*id+8.5))
		q1 := min(15, int(x[j+16]*id+8.5))
		b[2+j] = byte(q0) | byte(q1)<<4
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// roundF16 returns v rounded through float16, the precision block scales
// are stored in.
func roundF16(v float32) float32 { return F16ToF32(F32ToF16(v)) }
