package ggmlnum

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kRowsCase builds stride-padded rows of random k-quant superblocks (f16
// scales kept finite) and Q8_K activations for TestKRowsMatchDots.
func kRowsCase(rng *rand.Rand, bb, scaleOff, nb, rows int, extreme bool) (w []byte, stride int, xq []int8, xd []float32, xsum []int32) {
	stride = bb*nb + 3 // rows not aligned to anything
	w = randBytes(rng, rows*stride)
	for r := range rows {
		for b := range nb {
			blk := w[r*stride+bb*b:]
			for _, o := range []int{scaleOff, scaleOff + 2} {
				if o+1 < bb {
					blk[o+1] &= 0x7b // finite f16
				}
			}
			if extreme {
				for i := range bb {
					if i < scaleOff || i >= scaleOff+4 {
						blk[i] = 0xff
					}
				}
			}
		}
	}
	xq = randQuants(rng, 256*nb)
	if extreme {
		for i := range xq {
			xq[i] = -127
			if i%3 == 0 {
				xq[i] = 127
			}
		}
	}
	xd = make([]float32, nb)
	for i := range xd {
		xd[i] = float32(rng.NormFloat64() * 1e-2)
	}
	xsum = make([]int32, 16*nb)
	SubSums16(xq, xsum)
	return
}

// TestKRowsMatchDots: DotQ4_KRows and DotQ6_KRows (AVX-512 VNNI assembly
// where the CPU has it) give every row the bits of DotQ4_Kx8 (gemm false)
// and DotQ6_K, over edge sizes and extreme quants and scales.
func TestKRowsMatchDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, nb := range []int{1, 2, 3, 16, 17, 19, 40} {
		for _, extreme := range []bool{false, true} {
			const rows = 5
			t.Run(fmt.Sprintf("q4_k/nb=%d/extreme=%v", nb, extreme), func(t *testing.T) {
				w, stride, xq, xd, xsum := kRowsCase(rng, 144, 0, nb, rows, extreme)
				got := make([]float32, rows)
				DotQ4_KRows(got, w, stride, xq, xd, xsum)
				for r := range rows {
					want := DotQ4_Kx8(w[r*stride:r*stride+144*nb], xq, xd, xsum, false)
					if math.Float32bits(got[r]) != math.Float32bits(want) {
						t.Errorf("row %d: got %g (%#08x), want %g (%#08x)", r, got[r], math.Float32bits(got[r]), want, math.Float32bits(want))
					}
				}
			})
			t.Run(fmt.Sprintf("q6_k/nb=%d/extreme=%v", nb, extreme), func(t *testing.T) {
				w, stride, xq, xd, xsum := kRowsCase(rng, 210, 208, nb, rows, extreme)
				got := make([]float32, rows)
				DotQ6_KRows(got, w, stride, xq, xd, xsum)
				for r := range rows {
					want := DotQ6_K(w[r*stride:r*stride+210*nb], xq, xd, xsum)
					if math.Float32bits(got[r]) != math.Float32bits(want) {
						t.Errorf("row %d: got %g (%#08x), want %g (%#08x)", r, got[r], math.Float32bits(got[r]), want, math.Float32bits(want))
					}
				}
			})
		}
	}
}

// TestQuantizeQ8_0MatchesGo: QuantizeQ8_0 (AVX-512 where the CPU has it)
// gives the portable definition's quants and scales: zero blocks, blocks
// of one magnitude (ties at .5 after scaling), a wide range of exponents,
// f16 overflow and underflow of the scale, and non-finite values (which
// take the definition).
func TestQuantizeQ8_0MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	const n = 32 * 40
	cases := map[string]func(i int) float32{
		"normal": func(int) float32 { return float32(rng.NormFloat64()) },
		"wide":   func(int) float32 { return float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(60)-30))) },
		"zeros":  func(i int) float32 { return float32(i/32%2) * float32(rng.NormFloat64()) },
		"ties":   func(i int) float32 { return float32(i%32-16) * 0.5 * float32(1+i/32%3) },
		"huge":   func(int) float32 { return float32(rng.NormFloat64() * 1e7) },
		"tiny":   func(int) float32 { return float32(rng.NormFloat64() * 1e-30) }, // the scale underflows f16
		"nan": func(i int) float32 {
			if i == 77 {
				return float32(math.NaN())
			}
			return float32(rng.NormFloat64())
		},
	}
	for name, gen := range cases {
		t.Run(name, func(t *testing.T) {
			x := make([]float32, n+7) // a tail that is not a whole block
			for i := range x {
				x[i] = gen(i)
			}
			gq, gd := make([]int8, len(x)), make([]float32, len(x)/32)
			wq, wd := make([]int8, len(x)), make([]float32, len(x)/32)
			QuantizeQ8_0(x, gq, gd)
			quantizeQ8_0Go(x, wq, wd)
			for b := range gd {
				if math.Float32bits(gd[b]) != math.Float32bits(wd[b]) {
					t.Errorf("block %d: d = %g, want %g", b, gd[b], wd[b])
				}
			}
			if name == "nan" {
				return // int8 of NaN is not defined in Go: only the scales compare
			}
			for i := range 32 * len(gd) {
				if gq[i] != wq[i] {
					t.Errorf("q[%d] of %g = %d, want %d", i, x[i], gq[i], wq[i])
				}
			}
		})
	}
}
