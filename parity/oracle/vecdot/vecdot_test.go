package vecdot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// one weight type per rounding class.
var classTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_K}

// same rounds row both ways and reports the first element whose bits
// differ.
func same(t *testing.T, name string, ty gguf.Type, row []float32) {
	t.Helper()
	want := append([]float32(nil), row...)
	ggmlnum.RoundForDot(ty, want)
	got := make([]float64, len(row))
	for i, v := range row {
		got[i] = float64(v)
	}
	Round(ty, got)
	for i := range row {
		if math.Float64bits(got[i]) != math.Float64bits(float64(want[i])) {
			t.Fatalf("%s %v element %d of %g (block max %g): oracle %g (%#x), ggmlnum %g (%#x)", name, ty, i, row[i],
				blockMax(ty, row, i), got[i], math.Float64bits(got[i]), want[i], math.Float64bits(float64(want[i])))
		}
	}
}

func blockMax(ty gguf.Type, row []float32, i int) float32 {
	bs := ClassOf(ty).Block()
	b := i / bs * bs
	var m float32
	for _, v := range row[b : b+bs] {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

// TestRoundMatchesGGMLNum: the oracle's rounding equals ggmlnum's (the
// kernels' model) bit for bit on random rows spanning many magnitudes.
func TestRoundMatchesGGMLNum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, ty := range classTypes {
		t.Run(ty.String(), func(t *testing.T) {
			for r := range 3000 {
				row := make([]float32, 512)
				scale := math.Ldexp(1, rng.IntN(80)-60) // 2^-60 … 2^19
				for i := range row {
					v := (2*rng.Float64() - 1) * scale
					if rng.IntN(50) == 0 {
						v *= 1 + float64(rng.IntN(1000)) // outliers
					}
					row[i] = float32(v)
				}
				same(t, fmt.Sprintf("random row %d", r), ty, row)
			}
		})
	}
}

// TestRoundEdgeCases: zeros, exact ties of the quantizers, the block's
// maximum in its last element (and a negative maximum tied in magnitude
// with a positive one), subnormals inside normal blocks, blocks of
// subnormals only, and values around the f16 range's ends.
func TestRoundEdgeCases(t *testing.T) {
	sub := math.Float32frombits(1) // smallest float32 subnormal
	bigSub := math.Float32frombits(0x7fffff)
	cases := map[string]func(n int) []float32{
		"zeros": func(n int) []float32 { return make([]float32, n) },
		"negative zeros": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Copysign(0, -1))
			}
			return x
		},
		// amax 127 makes id = 1 (Q8_0); m = −127 makes iscale = 1 (Q8_K):
		// then x = k + 1/2 are exact ties, rounded to even.
		"ties": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%100) - 49.5
			}
			for b := 0; b < n; b += 32 {
				x[b] = -127
			}
			return x
		},
		"max at the block's end": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Sin(float64(i))) * 3
			}
			for b := 31; b < n; b += 32 {
				x[b] = 7.25
			}
			x[n-1] = -9
			return x
		},
		"opposite maxima": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%7) / 3
			}
			for b := 0; b < n; b += 256 {
				x[b], x[b+255] = -5, 5
			}
			return x
		},
		"subnormals among normals": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%5+1) * sub * float32(i%3-1)
			}
			for b := 0; b < n; b += 32 {
				x[b] = 0.75
				x[b+1] = bigSub
			}
			return x
		},
		"subnormals only": func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%9-4) * sub * 1000
			}
			x[3] = -bigSub
			return x
		},
		"tiny normals": func(n int) []float32 { // scales underflow in f16 / iscale overflows
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%11-5) * 1e-38
			}
			return x
		},
		"f16 range ends": func(n int) []float32 {
			x := make([]float32, n)
			vals := []float32{65504, 65519.99, 65520, -70000, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, 3.4e38}
			for i := range x {
				x[i] = vals[i%len(vals)]
			}
			return x
		},
	}
	for name, mk := range cases {
		for _, ty := range classTypes {
			if name == "f16 range ends" && ClassOf(ty) >= Q8_0 {
				continue // the scale itself overflows f16: ggml's result is not finite
			}
			t.Run(name+"/"+ty.String(), func(t *testing.T) { same(t, name, ty, mk(512)) })
		}
	}
}

// TestRoundBinary checks the generic rounding on hand-computed values.
func TestRoundBinary(t *testing.T) {
	for _, c := range []struct{ in, f16, bf16 float64 }{
		{1, 1, 1},
		{1 + 1.0/2048, 1, 1},            // f16 tie → even (1)
		{1 + 3.0/2048, 1 + 2.0/1024, 1}, // f16 tie → even (1+2⁻⁹)
		{1 + 1.0/256, 1 + 1.0/256, 1},   // bf16 tie → even
		{1 + 3.0/256, 1.01171875, 1 + 2.0/128},
		{65520, math.Inf(1), 65536}, // f16 overflow at max + ulp/2
		{65519, 65504, 65536},
		{math.Ldexp(1, -25), 0, math.Ldexp(1, -25)},                  // f16 tie at half the smallest subnormal → 0
		{math.Ldexp(3, -26), math.Ldexp(1, -24), math.Ldexp(3, -26)}, // above the tie → 2⁻²⁴
		{-math.Ldexp(1, -30), math.Copysign(0, -1), -math.Ldexp(1, -30)},
	} {
		if got := roundF16(c.in); math.Float64bits(got) != math.Float64bits(c.f16) {
			t.Errorf("f16(%g) = %g, want %g", c.in, got, c.f16)
		}
		if got := roundBF16(c.in); math.Float64bits(got) != math.Float64bits(c.bf16) {
			t.Errorf("bf16(%g) = %g, want %g", c.in, got, c.bf16)
		}
	}
}
