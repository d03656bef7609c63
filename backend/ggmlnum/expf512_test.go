package ggmlnum

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorExpMatchesDefinition: ExpfN and SwiGLU (assembly on AVX-512)
// give every lane the bits of Expf and Silu·g, over the whole float range
// (overflow, underflow, ±0, denormal results, NaN).
func TestVectorExpMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const n = 1 << 14
	x, g := make([]float32, n), make([]float32, n)
	for i := range x {
		switch i % 7 {
		case 0:
			x[i] = float32(rng.NormFloat64() * 100)
		case 1:
			x[i] = math.Float32frombits(rng.Uint32())
		default:
			x[i] = float32(rng.NormFloat64() * 4)
		}
		g[i] = float32(rng.NormFloat64())
	}
	copy(x, []float32{0, float32(math.Copysign(0, -1)), 88.7, -87.3, -103.9, 89, -150, 200, -200, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())})
	y := make([]float32, n)
	ExpfN(y, x)
	for i, v := range x {
		if want := Expf(v); math.Float32bits(y[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(y[i]))) {
			t.Fatalf("ExpfN(%g) = %g (%#x), Expf %g (%#x)", v, y[i], math.Float32bits(y[i]), want, math.Float32bits(want))
		}
	}
	SwiGLU(y, x, g)
	for i, v := range x[:n-n%16] {
		if want := Silu(v) * g[i]; math.Float32bits(y[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(y[i]))) {
			t.Fatalf("SwiGLU[%d] of %g, %g = %g, Silu·g %g", i, v, g[i], y[i], want)
		}
	}
}
