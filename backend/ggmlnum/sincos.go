package ggmlnum

import "math"

// Sincosf returns sinf(x) and cosf(x) as glibc (2.28 and later, x86-64
// with FMA) computes them; ggml's RoPE takes its rotation from them. The
// algorithm is the one documented for those functions: reduce x by
// multiples of π/2 (in float64 for |x| < 120, with a 4/π bit table above),
// then evaluate fixed sine and cosine polynomials in float64 with fused
// multiply-adds, and round to float32. Results differ from the correctly
// rounded sin and cos in about 1% of arguments.
func Sincosf(y float32) (sin, cos float32) {
	x := float64(y)
	top := abstop12(y)
	p := &scTable[0]
	switch {
	case top < abstop12(0x1.921FB6p-1): // |y| < π/4
		if top < abstop12(0x1p-12) {
			return y, 1
		}
		s, c := scPoly(x, x*x, p, 0)
		return s, c
	case top < abstop12(120):
		xr, n := reduceFast(x, p)
		s := p.sign[n&3]
		if n&2 != 0 {
			p = &scTable[1]
		}
		return scPoly(xr*s, xr*xr, p, n)
	case top < abstop12(float32(math.Inf(1))):
		xi := math.Float32bits(y)
		sign := int(xi >> 31)
		xr, n := reduceLarge(xi)
		s := p.sign[(n+sign)&3]
		if (n+sign)&2 != 0 {
			p = &scTable[1]
		}
		return scPoly(xr*s, xr*xr, p, n)
	default:
		nan := float32(math.NaN())
		return nan, nan
	}
}

func abstop12(x float32) uint32 { return (math.Float32bits(x) >> 20) & 0x7ff }

type scCoef struct {
	sign               [4]float64
	hpiInv, hpi        float64
	c0, c1, c2, c3, c4 float64
	s1, s2, s3         float64
}

var scTable = [2]scCoef{
	{
		sign: [4]float64{1, -1, -1, 1}, hpiInv: 0x1.45F306DC9C883p+23, hpi: 0x1.921FB54442D18p0,
		c0: 0x1p0, c1: -0x1.ffffffd0c621cp-2, c2: 0x1.55553e1068f19p-5, c3: -0x1.6c087e89a359dp-10, c4: 0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3, s2: 0x1.1107605230bc4p-7, s3: -0x1.994eb3774cf24p-13,
	},
	{
		sign: [4]float64{1, -1, -1, 1}, hpiInv: 0x1.45F306DC9C883p+23, hpi: 0x1.921FB54442D18p0,
		c0: -0x1p0, c1: 0x1.ffffffd0c621cp-2, c2: -0x1.55553e1068f19p-5, c3: 0x1.6c087e89a359dp-10, c4: -0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3, s2: 0x1.1107605230bc4p-7, s3: -0x1.994eb3774cf24p-13,
	},
}

// scPoly evaluates the polynomials on the reduced x (x2 = x·x); odd n
// swaps sine and cosine.
func scPoly(x, x2 float64, p *scCoef, n int) (sin, cos float32) {
	x4 := x2 * x2
	x3 := x2 * x
	c2 := math.FMA(x2, p.c4, p.c3)
	s1 := math.FMA(x2, p.s3, p.s2)
	c1 := math.FMA(x2, p.c1, p.c0)
	x5 := x3 * x2
	x6 := x4 * x2
	s := math.FMA(x3, p.s1, x)
	c := math.FMA(x4, p.c2, c1)
	sv := float32(math.FMA(x5, s1, s))
	cv := float32(math.FMA(x6, c2, c))
	if n&1 != 0 {
		return cv, sv
	}
	return sv, cv
}

// reduceFast reduces |x| < 120 to [-π/4, π/4] and its quadrant n.
func reduceFast(x float64, p *scCoef) (float64, int) {
	r := x * p.hpiInv
	n := (int32(r) + 0x800000) >> 24
	return math.FMA(-float64(n), p.hpi, x), int(n)
}

// invPio4 holds 32-bit windows of the binary expansion of 4/π (2/π's
// bits 0xa2f9836e…, shifted a byte per entry).
var invPio4 = func() [24]uint32 {
	bytes := [...]uint32{0xa2, 0xf9, 0x83, 0x6e, 0x4e, 0x44, 0x15, 0x29, 0xfc, 0x27, 0x57, 0xd1,
		0xf5, 0x34, 0xdd, 0xc0, 0xdb, 0x62, 0x95, 0x99, 0x3c, 0x43, 0x90, 0x41}
	var t [24]uint32
	for k := range t {
		for j := k - 3; j <= k; j++ {
			t[k] <<= 8
			if j >= 0 {
				t[k] |= bytes[j]
			}
		}
	}
	return t
}()

// reduceLarge reduces a finite |x| ≥ 120, given its bits, with 96 bits of
// 4/π in integer arithmetic.
func reduceLarge(xi uint32) (float64, int) {
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi & 0xffffff) | 0x800000
	xi <<= shift
	res0 := uint64(xi * arr[0])
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = (res2 >> 32) | (res0 << 32)
	res0 += res1
	n := (res0 + (1 << 61)) >> 62
	res0 -= n << 62
	return float64(int64(res0)) * 0x1.921FB54442D18p-62, int(n)
}
