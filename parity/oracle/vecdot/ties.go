package vecdot

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// TieRel is the relative distance from a rounding boundary within which
// RoundTies calls an element ambiguous: 2^-16. It is far more than the few
// float32 ulps (≈ 2^-22 relative) by which a path's float32 input of a
// mul_mat (an RMSNorm, say) and the oracle's float64 recomputation of it
// rounded to float32 differ, and far less than a rounding step (1/127 of a
// Q8 block's range, 2^-11 relative for f16, 2^-8 for bf16).
const TieRel = 0x1p-16

// Tie is an element of a rounded row whose value before rounding lies
// within TieRel of a rounding boundary: an input that differs by a few
// ulps may round it to the neighbouring value, and nothing the oracle
// computes can say which.
type Tie struct {
	// Index is the element's index in the row (for a scale tie, the
	// block's first element).
	Index int
	// Delta is the other neighbouring rounding minus the one Round chose,
	// in the units of the rounded row (±d for a Q8_0 quant step).
	Delta float64
	// Scale is set instead for a scale tie: a Q8_0 block whose scale
	// float32(amax/127) lies within TieRel of an f16 rounding boundary, so
	// that d may round to the other neighbouring f16 value d′ (the quants,
	// scaled by id, do not change). It holds the change of each of the
	// block's elements, q·(d′ − d).
	Scale []float64
}

// RoundTies rounds x in place exactly as Round does and returns the
// ambiguous elements, in increasing Index:
//
//   - Q8_0: v = float32(x·id) within TieRel·|b| of a half-integer b; the
//     other rounding is the other integer next to b, times d; and the
//     block's scale itself (a Tie with Scale set, listed before the
//     block's elements) when float32(amax/127) is within TieRel of an f16
//     rounding boundary;
//   - Q8_K: v = float32(iscale·x) likewise; the other quant is clipped to
//     127 as the chosen one is (no tie when the clip makes them equal), and
//     Delta = float32(d·q') − float32(d·q);
//   - F16, BF16: x itself within TieRel·|m| of m, the midpoint of the two
//     representable values around x; the other rounding is the other one
//     (none when it overflows).
//
// F32 weights (class None) and a tail shorter than a block round nothing
// but to float32, and have no ties; nor has a block whose scale is zero.
func RoundTies(t gguf.Type, x []float64) []Tie {
	for i, v := range x {
		x[i] = f32(v)
	}
	var ties []Tie
	switch ClassOf(t) {
	case F16:
		ties = binaryTies(x, 11, -14, 15)
	case BF16:
		ties = binaryTies(x, 8, -126, 127)
	case Q8_0:
		for b := 0; b+32 <= len(x); b += 32 {
			ties = append(ties, q8_0Ties(x[b:b+32], b)...)
		}
	case Q8_K:
		for b := 0; b+256 <= len(x); b += 256 {
			ties = append(ties, q8_KTies(x[b:b+256], b)...)
		}
	}
	Round(t, x)
	return ties
}

// near reports whether v lies within TieRel of the boundary b.
func near(v, b float64) bool { return math.Abs(v-b) <= TieRel*math.Abs(b) }

// quantTie returns the other integer next to the half-integer boundary
// nearest v, and whether v is near that boundary (q is quant(v)).
func quantTie(v, q float64) (float64, bool) {
	b := math.Floor(v) + 0.5
	if !near(v, b) {
		return 0, false
	}
	if q < b {
		return q + 1, true
	}
	return q - 1, true
}

// q8_0Ties lists the ambiguous elements of a Q8_0 block (q8_0's rule) of
// float32 values starting at row index off.
func q8_0Ties(x []float64, off int) []Tie {
	var amax float64
	for _, v := range x {
		amax = max(amax, math.Abs(v))
	}
	d := roundF16(f32(amax / 127))
	if d == 0 {
		return nil
	}
	id := f32(127 / amax)
	var ties []Tie
	if alt := binaryTies([]float64{f32(amax / 127)}, 11, -14, 15); len(alt) == 1 {
		dd := alt[0].Delta // d′ − d
		sc := make([]float64, len(x))
		for i, v := range x {
			sc[i] = quant(f32(v*id)) * dd
		}
		ties = append(ties, Tie{Index: off, Scale: sc})
	}
	for i, v := range x {
		s := f32(v * id)
		q := quant(s)
		if alt, ok := quantTie(s, q); ok {
			ties = append(ties, Tie{Index: off + i, Delta: (alt - q) * d})
		}
	}
	return ties
}

// q8_KTies lists the ambiguous elements of a Q8_K block (q8_K's rule) of
// float32 values starting at row index off.
func q8_KTies(x []float64, off int) []Tie {
	var amax, m float64
	for _, v := range x {
		if a := math.Abs(v); a > amax {
			amax, m = a, v
		}
	}
	if amax == 0 {
		return nil
	}
	iscale := f32(-127 / m)
	d := f32(1 / iscale)
	if d == 0 {
		return nil
	}
	var ties []Tie
	for i, v := range x {
		s := f32(iscale * v)
		q := min(127, quant(s))
		alt, ok := quantTie(s, quant(s))
		if !ok {
			continue
		}
		if alt = min(127, alt); alt != q {
			ties = append(ties, Tie{Index: off + i, Delta: f32(d*alt) - f32(d*q)})
		}
	}
	return ties
}

// binaryTies lists the elements of x that lie near the midpoint of the two
// values of a binary format (p significant bits, exponents emin…emax,
// roundBinary's) around them.
func binaryTies(x []float64, p, emin, emax int) []Tie {
	var ties []Tie
	top := math.Ldexp(2-math.Ldexp(1, 1-p), emax)
	for i, v := range x {
		if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		a := math.Abs(v)
		_, e := math.Frexp(a)
		ulp := math.Ldexp(1, max(e-1, emin)-p+1)
		lo := math.Floor(a/ulp) * ulp
		hi := lo + ulp
		if a == lo || hi > top || !near(a, lo+ulp/2) {
			continue
		}
		r := roundBinary(a, p, emin, emax)
		alt := hi
		if r == hi {
			alt = lo
		}
		delta := alt - r
		if v < 0 {
			delta = -delta
		}
		ties = append(ties, Tie{Index: i, Delta: delta})
	}
	return ties
}
