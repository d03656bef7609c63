package ggmlnum

import (
	"math"
	"math/big"
)

// LibcExpf returns expf(x) as glibc (2.27 and later, x86-64 with FMA: the
// __expf_fma variant its dispatcher picks on AVX2 machines) computes it.
// ggml's flash attention calls the C library's expf for its online
// softmax rescaling (unlike its soft_max, which uses the vector Expf).
//
// The algorithm is the one documented for that implementation: with
// N = 32, z = x·N/ln2 in float64; k = z rounded to an integer (by adding
// and subtracting 1.5·2^52), r = z − k; s = 2^(k/N) from a 32-entry table
// of 2^(i/N) with the exponent bits of k/N added; then
// exp(x) ≈ s·(C0·r³ + C1·r² + C2·r + 1) with fixed coefficients, every
// step in float64 with the multiply-adds fused, and one rounding to
// float32 at the end. |x| ≥ 88 takes the special cases: −Inf gives 0, NaN
// and +Inf return x+x, overflow +Inf, underflow below ln(2^-150) 0.
func LibcExpf(x float32) float32 {
	xd := float64(x)
	if abstop12(x) >= abstop12(88) {
		switch {
		case math.Float32bits(x) == math.Float32bits(float32(math.Inf(-1))):
			return 0
		case abstop12(x) >= abstop12(float32(math.Inf(1))):
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		}
	}
	const shift = 0x1.8p+52
	// z = InvLn2N·xd enters two additions; fusing it into both, as an FMA
	// build may, gives the same results as rounding it first on every
	// float32 (checked against glibc on all of [−104, 96], every 7th).
	kd := math.FMA(expInvLn2N, xd, shift)
	ki := math.Float64bits(kd)
	kd -= shift
	r := math.FMA(expInvLn2N, xd, -kd)
	t := expTable[ki%expN] + ki<<(52-expBits)
	s := math.Float64frombits(t)
	z := math.FMA(expPoly[0], r, expPoly[1])
	r2 := r * r
	y := math.FMA(expPoly[2], r, 1)
	y = math.FMA(z, r2, y)
	return float32(y * s)
}

const (
	expBits = 5
	expN    = 1 << expBits
	// expInvLn2N is N/ln2 as the float64 nearest 1/ln2, times N (exact).
	expInvLn2N = 0x1.71547652b82fep+0 * expN
)

// expPoly are the coefficients of 2^(r/N) − 1 ≈ C0·r³ + C1·r² + C2·r,
// pre-scaled by powers of 1/N.
var expPoly = [3]float64{
	0x1.c6af84b912394p-5 / expN / expN / expN,
	0x1.ebfce50fac4f3p-3 / expN / expN,
	0x1.62e42ff0c52d6p-1 / expN,
}

// expTable[i] is the bits of 2^(i/N), rounded to the nearest float64,
// minus i·2^52/N: adding k·2^52/N (k's shifted bits) puts 2^(k/N) back.
var expTable = func() (t [expN]uint64) {
	for i := range t {
		t[i] = math.Float64bits(exp2Frac(i, expN)) - uint64(i)<<(52-expBits)
	}
	return t
}()

// exp2Frac returns 2^(i/n) (0 ≤ i < n, n a power of two) rounded to the
// nearest float64: the n-th root of 2^i by Newton's method in 256-bit
// arithmetic, then one rounding.
func exp2Frac(i, n int) float64 {
	const prec = 256
	a := new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), i) // 2^i
	x := new(big.Float).SetPrec(prec).SetFloat64(math.Exp2(float64(i) / float64(n)))
	for range 8 {
		// x ← x − (x^n − a)/(n·x^(n−1)) = ((n−1)·x + a/x^(n−1))/n
		p := new(big.Float).SetPrec(prec).SetInt64(1)
		for range n - 1 {
			p.Mul(p, x)
		}
		q := new(big.Float).SetPrec(prec).Quo(a, p)
		x.Mul(x, big.NewFloat(float64(n-1)))
		x.Add(x, q)
		x.Quo(x, big.NewFloat(float64(n)))
	}
	f, _ := x.Float64()
	return f
}
