package oracle

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-15*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %.17g, want %.17g", what, i, got[i], want[i])
		}
	}
}

func TestOpsByHand(t *testing.T) {
	// RMSNorm of (3, 4): mean square 12.5, eps 0.5 → scale 1/√13.
	s := 1 / math.Sqrt(13)
	near(t, "rmsNorm", rmsNorm([]float64{3, 4}, 2, []float64{1, 2}, 0.5), []float64{3 * s, 8 * s})

	// RoPE, head dim 4, rope dim 4, base 100, row 1 (position 1):
	// pair i rotates by 100^(−2i/4) = 1, 0.1.
	x := []float64{0, 0, 0, 0, 1, 2, 3, 4}
	c0, s0, c1, s1 := math.Cos(1), math.Sin(1), math.Cos(0.1), math.Sin(0.1)
	near(t, "rope normal", rope(x, 4, 4, 4, 100, model.RopeNormal)[4:],
		[]float64{c0 - 2*s0, s0 + 2*c0, 3*c1 - 4*s1, 3*s1 + 4*c1})
	near(t, "rope neox", rope(x, 4, 4, 4, 100, model.RopeNeoX)[4:],
		[]float64{c0 - 3*s0, 2*c1 - 4*s1, s0 + 3*c0, 2*s1 + 4*c1})
	// Rope dim 2 of head dim 4 leaves dims 2, 3 alone.
	near(t, "rope partial", rope(x, 4, 4, 2, 100, model.RopeNormal)[4:], []float64{c0 - 2*s0, s0 + 2*c0, 3, 4})

	// Attention, one head of dim 2, two positions, causal.
	q := []float64{1, 0, 1, 0}
	k := []float64{1, 0, 0, 1}
	v := []float64{1, 2, 3, 4}
	e := math.Exp(1 / math.Sqrt2)
	p0, p1 := e/(e+1), 1/(e+1)
	near(t, "attention", attention(q, k, v, 2, 1, 1, 2), []float64{1, 2, p0*1 + p1*3, p0*2 + p1*4})
	// GQA: two query heads share one kv head.
	near(t, "gqa", attention([]float64{1, 0, 0, 1}, []float64{1, 0}, []float64{5, 6}, 1, 2, 1, 2), []float64{5, 6, 5, 6})

	near(t, "swiglu", swiglu([]float64{0, 2}, []float64{3, 5}), []float64{0, 2 / (1 + math.Exp(-2)) * 5})
}

// decodeF16 (the streaming oracle's table) gives hand-computed values,
// and every one of the 65536 f16 patterns exactly as gguf.DequantizeF64
// widens it, NaNs included, so the table changes no oracle's result.
func TestDecodeF16(t *testing.T) {
	cases := []struct {
		bits uint16
		want float64
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125}, {0x7bff, 65504},
		{0x0001, 0x1p-24}, {0x8400, -0x1p-14}, {0x0000, 0}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	}
	for _, c := range cases {
		got := make([]float64, 1)
		decodeF16([]byte{byte(c.bits), byte(c.bits >> 8)}, got)
		if got[0] != c.want {
			t.Errorf("f16 %#04x = %g, want %g", c.bits, got[0], c.want)
		}
	}
	src := make([]byte, 2<<16)
	for h := 0; h < 1<<16; h++ {
		src[2*h], src[2*h+1] = byte(h), byte(h>>8)
	}
	got, want := make([]float64, 1<<16), make([]float64, 1<<16)
	decodeF16(src, got)
	if err := gguf.DequantizeF64(gguf.TypeF16, src, want); err != nil {
		t.Fatal(err)
	}
	for h := range got {
		if math.Float64bits(got[h]) != math.Float64bits(want[h]) {
			t.Errorf("f16 %#04x: %v (bits %#x), gguf.DequantizeF64 %v (bits %#x)", h, got[h], math.Float64bits(got[h]), want[h], math.Float64bits(want[h]))
		}
	}
	if !math.IsNaN(got[0x7e00]) {
		t.Errorf("f16 0x7e00 = %g, want NaN", got[0x7e00])
	}
}

// decodeQ8_0 gives hand-computed values and, on blocks of every scale
// pattern class and random quants, exactly what gguf.DequantizeF64 gives.
func TestDecodeQ8_0(t *testing.T) {
	// d = 0.5 (f16 0x3800), q = −128, −1, 0, 1, 127, then zeros.
	blk := make([]byte, 34)
	blk[0], blk[1] = 0x00, 0x38
	for j, q := range []int8{-128, -1, 0, 1, 127} {
		blk[2+j] = byte(q)
	}
	got := make([]float64, 32)
	decodeQ8_0(blk, got)
	for j, want := range []float64{-64, -0.5, 0, 0.5, 63.5, 0} {
		if got[j] != want {
			t.Errorf("x[%d] = %g, want %g", j, got[j], want)
		}
	}
	const blocks = 4096
	src := make([]byte, 34*blocks)
	rng := uint64(7)
	for i := range src {
		rng = rng*6364136223846793005 + 1442695040888963407
		src[i] = byte(rng >> 56)
	}
	for b := 0; b < blocks; b++ { // scales over the whole f16 range, NaN and Inf included
		h := uint16(b * 16)
		src[34*b], src[34*b+1] = byte(h), byte(h>>8)
	}
	got, want := make([]float64, 32*blocks), make([]float64, 32*blocks)
	decodeQ8_0(src, got)
	if err := gguf.DequantizeF64(gguf.TypeQ8_0, src, want); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("value %d: %v, gguf.DequantizeF64 %v", i, got[i], want[i])
		}
	}
}
