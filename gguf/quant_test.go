package gguf

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

func gaussian(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// relRMSE is the RMS error of y against x divided by the RMS of x.
func relRMSE(x []float32, y []float64) float64 {
	var se, ss float64
	for i := range x {
		d := float64(x[i]) - y[i]
		se += d * d
		ss += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(se / ss)
}

func roundTrip(t *testing.T, typ Type, x []float32) []float64 {
	t.Helper()
	q, err := Quantize(typ, x)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := RowBytes(typ, len(x)); len(q) != want {
		t.Fatalf("%s: %d bytes, want %d", typ, len(q), want)
	}
	y := make([]float64, len(x))
	if err := DequantizeF64(typ, q, y); err != nil {
		t.Fatal(err)
	}
	q2, _ := Quantize(typ, x)
	if !bytes.Equal(q, q2) {
		t.Fatalf("%s: quantization is not deterministic", typ)
	}
	return y
}

// TestQuantizeErrorBounds quantizes Gaussian data and a smooth signal
// (ggml's test-quantize-fns uses 0.1 + 2·cos(i)) and bounds the error.
func TestQuantizeErrorBounds(t *testing.T) {
	n := 256 * 64
	cosine := make([]float32, n)
	for i := range cosine {
		cosine[i] = float32(0.1 + 2*math.Cos(float64(i)))
	}
	for _, c := range []struct {
		typ    Type
		maxRel float64 // bound on relative RMSE
	}{
		{TypeF32, 0}, {TypeF16, 3e-4}, {TypeBF16, 3e-3},
		{TypeQ8_0, 0.006}, {TypeQ4_0, 0.1}, {TypeQ4_1, 0.1}, {TypeQ5_0, 0.05}, {TypeQ5_1, 0.05}, {TypeQ4_K, 0.08}, {TypeQ6_K, 0.02},
		{TypeQ3_K, 0.2}, {TypeQ5_K, 0.04}, {TypeIQ4_NL, 0.12},
	} {
		for name, x := range map[string][]float32{"gaussian": gaussian(n, 1), "cosine": cosine} {
			y := roundTrip(t, c.typ, x)
			rel := relRMSE(x, y)
			t.Logf("%-5s %-8s relative RMSE %.5f", c.typ, name, rel)
			if rel > c.maxRel {
				t.Errorf("%s %s: relative RMSE %.5f > %.5f", c.typ, name, rel, c.maxRel)
			}
		}
	}
}

// TestQuantizeElementBounds checks the per-element bound of the
// round-to-nearest block formats: |x − x̂| ≤ step/2 plus the float16
// rounding of the scale; Q4_0 maps the extreme to −8 so the other side
// may clamp at +7, one full step.
func TestQuantizeElementBounds(t *testing.T) {
	x := gaussian(32*200, 3)
	for _, c := range []struct {
		typ   Type
		steps float64 // quantization steps across max|x|
		slack float64 // error in steps
	}{{TypeQ8_0, 127, 0.5}, {TypeQ4_0, 8, 1}} {
		y := roundTrip(t, c.typ, x)
		for b := 0; b < len(x)/32; b++ {
			var amax float64
			for _, v := range x[32*b : 32*b+32] {
				amax = max(amax, math.Abs(float64(v)))
			}
			bound := amax/c.steps*c.slack + amax/1024
			for i := 32 * b; i < 32*b+32; i++ {
				if e := math.Abs(float64(x[i]) - y[i]); e > bound {
					t.Fatalf("%s element %d: |%v − %v| = %v > %v", c.typ, i, x[i], y[i], e, bound)
				}
			}
		}
	}
}

// TestQuantizeExact: values already on a grid survive exactly.
func TestQuantizeExact(t *testing.T) {
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i%16) - 8 // Q4_0 grid with d = 1
	}
	x[0] = -8
	y := roundTrip(t, TypeQ4_0, x[:32])
	for i, v := range y {
		if v != float64(x[i]) {
			t.Errorf("Q4_0 element %d: %v, want %v", i, v, x[i])
		}
	}
	// Q8_0 grid: every block holds ±63.5, so d = 63.5/127 = 0.5 exactly.
	for i := range x {
		x[i] = float32(i%255-127) * 0.5
		if i%32 == 0 {
			x[i] = 63.5
		}
	}
	y = roundTrip(t, TypeQ8_0, x)
	for i, v := range y {
		if v != float64(x[i]) {
			t.Errorf("Q8_0 element %d: %v, want %v", i, v, x[i])
		}
	}
	// All-zero blocks encode zero.
	for _, typ := range []Type{TypeQ8_0, TypeQ4_0, TypeQ4_K, TypeQ6_K} {
		for i, v := range roundTrip(t, typ, make([]float32, 256)) {
			if v != 0 {
				t.Fatalf("%s: zero input element %d → %v", typ, i, v)
			}
		}
	}
	// Constant positive and negative blocks (a min or a scale alone).
	for _, typ := range []Type{TypeQ4_K, TypeQ6_K} {
		for _, c := range []float32{3, -3} {
			x := make([]float32, 256)
			for i := range x {
				x[i] = c
			}
			y := roundTrip(t, typ, x)
			for i, v := range y {
				if math.Abs(v-float64(c)) > 0.01*3 {
					t.Fatalf("%s constant %v: element %d → %v", typ, c, i, v)
				}
			}
		}
	}
}

func TestQuantizeRejects(t *testing.T) {
	if _, err := Quantize(TypeQ8_0, make([]float32, 31)); err == nil {
		t.Error("31 elements accepted for Q8_0")
	}
	bad := make([]float32, 32)
	bad[5] = float32(math.NaN())
	if _, err := Quantize(TypeQ8_0, bad); err == nil {
		t.Error("NaN accepted for Q8_0")
	}
	if _, err := Quantize(TypeIQ4_XS, make([]float32, 256)); err == nil {
		t.Error("IQ4_XS quantized")
	}
	if q, err := Quantize(TypeF16, bad); err != nil || F16ToF32(uint16(q[10])|uint16(q[11])<<8) == F16ToF32(uint16(q[10])|uint16(q[11])<<8) {
		t.Errorf("F16 of NaN: %v %v", q, err)
	}
}
