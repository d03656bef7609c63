package backendtest

import (
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// roundedX is the oracle of OpMatMulQ's activation rounding: x as llama.cpp
// quantizes it for a dot product with weights of type w, widened exactly.
func roundedX(w gguf.Type, xs []float64, K int) ([]float64, error) {
	out := make([]float64, len(xs))
	row := make([]float32, K)
	for t := 0; t < len(xs)/K; t++ {
		for i := range row {
			row[i] = float32(xs[t*K+i])
		}
		dst := out[t*K : (t+1)*K]
		switch w {
		case gguf.TypeF32:
			for i, v := range row {
				dst[i] = float64(v)
			}
		case gguf.TypeF16:
			for i, v := range row {
				dst[i] = float64(gguf.F16ToF32(gguf.F32ToF16(v)))
			}
		case gguf.TypeBF16:
			for i, v := range row {
				dst[i] = float64(gguf.BF16ToF32(gguf.F32ToBF16(v)))
			}
		case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ5_1:
			for b := 0; b < K; b += 32 {
				q8x86(row[b:b+32], dst[b:b+32])
			}
		default:
			for b := 0; b < K; b += 256 {
				q8k(row[b:b+256], dst[b:b+256])
			}
		}
	}
	return out, nil
}

// q8x86 is the Q8_0 (and Q8_1) rule of ggml's x86 quantize_row_q8_0/_q8_1,
// which quantize a q8_0/q4_0/q4_1/q5_0/q5_1 matmul's activations, in
// float32, widened: amax = max|x|, d = f16(amax/127), id = 127/amax,
// q = nearest-even(x·id), x̂ = q·d. (ggml's reference quantizer, used for
// weights, divides by d and rounds half away from zero instead.)
func q8x86(x []float32, dst []float64) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := gguf.F16ToF32(gguf.F32ToF16(amax / 127))
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	for i, v := range x {
		dst[i] = math.RoundToEven(float64(v*id)) * float64(d)
	}
}

// q8k is ggml's reference Q8_K rule in float32, widened: the element of
// largest magnitude m sets s = −127/m; q = min(127, nearest-even(s·x));
// x̂ = (1/s)·q.
func q8k(x []float32, dst []float64) {
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, m = a, v
		}
	}
	if amax == 0 {
		clear(dst)
		return
	}
	s := -127 / m
	d := 1 / s
	for i, v := range x {
		dst[i] = float64(d * float32(min(127, math.RoundToEven(float64(s*v)))))
	}
}

func matmulQCase(w gguf.Type, K, N, T int) result {
	return gemmCase(backend.OpMatMulQ, w, K, N, T, true)
}
