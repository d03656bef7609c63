package gguf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// nearestF16 finds the binary16 nearest to f by brute force over the two
// neighbours of the truncated value, ties to even; an independent oracle
// for F32ToF16 (finite inputs only).
func nearestF16(f float32) uint16 {
	x := float64(f)
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	// Largest non-negative half ≤ x, by bisection over the ordered codes.
	lo, hi := uint16(0), uint16(0x7c00) // 0x7c00 is +Inf
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if float64(F16ToF32(mid)) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if float64(F16ToF32(lo)) == x {
		return sign | lo
	}
	next := lo + 1
	var up float64
	if next == 0x7c00 {
		up = 65536 // the overflow threshold behaves like the next binade
	} else {
		up = float64(F16ToF32(next))
	}
	dl, du := x-float64(F16ToF32(lo)), up-x
	switch {
	case dl < du:
		return sign | lo
	case du < dl:
		return sign | next
	case lo&1 == 0:
		return sign | lo
	default:
		return sign | next
	}
}

func TestF16RoundTripAll(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
				t.Fatalf("%#04x decoded to NaN", h)
			}
			if back := F32ToF16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x re-encoded as %#04x", h, back)
			}
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
}

func TestF32ToF16Cases(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {0.1, 0x2e66}, {65504, 0x7bff},
		{65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Copysign(0, -1)), 0x8000},
		{0x1p-24, 0x0001}, {0x1p-25, 0x0000}, {0x1.000002p-25, 0x0001}, {0x3p-25, 0x0002},
		{0x1p-14, 0x0400}, {0x1.ffcp-15, 0x0400}, // largest subnormal rounds up to min normal
		{1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02}, {1e-30, 0}, {-1e-30, 0x8000},
	} {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN → %#04x", h)
	}
}

func TestF32ToF16RandomAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var f float32
		switch i % 3 {
		case 0: // any finite bit pattern in the f16 range
			f = math.Float32frombits(r.Uint32() & 0x477fffff)
		case 1: // near subnormals
			f = float32(r.NormFloat64() * 1e-5)
		default: // exact midpoints between neighbouring halves
			h := uint16(r.IntN(0x7bff))
			a, b := float64(F16ToF32(h)), float64(F16ToF32(h+1))
			f = float32((a + b) / 2)
		}
		if got, want := F32ToF16(f), nearestF16(f); got != want {
			t.Fatalf("F32ToF16(%g [%#08x]) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80}, {-3, 0xc040}, {1 + 0x1p-8, 0x3f80}, {1 + 0x3p-8, 0x3f82},
		{1 + 0x1p-8 + 0x1p-20, 0x3f81}, {math.MaxFloat32, 0x7f80},
		{float32(math.Inf(-1)), 0xff80}, {0x1p-140, 0x0000 | uint16(math.Float32bits(0x1p-140)>>16)},
	} {
		if got := F32ToBF16(c.f); got != c.want {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if h := F32ToBF16(float32(math.NaN())); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("NaN → %#04x", h)
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		if !math.IsNaN(float64(f)) && F32ToBF16(f) != uint16(h) {
			t.Fatalf("%#04x does not round-trip", h)
		}
	}
}
