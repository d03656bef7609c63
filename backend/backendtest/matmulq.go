package backendtest

import (
	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
)

// roundedX is the oracle of OpMatMulQ's activation rounding: x as llama.cpp
// quantizes it for a dot product with weights of type w, widened exactly
// (package vecdot, the oracles' one copy of those rules).
func roundedX(w gguf.Type, xs []float64, K int) ([]float64, error) {
	out := append([]float64(nil), xs...)
	for t := 0; t+K <= len(out); t += K {
		vecdot.Round(w, out[t:t+K])
	}
	return out, nil
}

func matmulQCase(w gguf.Type, K, N, T int) result {
	return gemmCase(backend.OpMatMulQ, w, K, N, T, true)
}
