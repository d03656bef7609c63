package ggmlnum

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// bf16Edge returns n random bf16 bit patterns: mostly ordinary values of
// mixed magnitude, with denormals, negative and positive zeros and values
// small enough that vdpbf16ps's products and partial sums underflow (so
// its flushing must match dpbf16's), never Inf or NaN. With tiny, every
// value is below 2^-56, so whole lanes stay in the denormal range.
func bf16Edge(rng *rand.Rand, n int, tiny bool) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		sign := uint16(rng.IntN(2)) << 15
		mant := uint16(rng.IntN(128))
		var exp uint16
		switch p := rng.IntN(20); {
		case tiny && p > 0:
			exp = uint16(rng.IntN(72))
		case p == 0:
			v[i] = sign // ±0
			continue
		case p == 1:
			exp = 0 // a denormal (or ±0)
		case p <= 3:
			exp = uint16(1 + rng.IntN(40)) // tiny: products and sums underflow
		case p == 4:
			exp = uint16(150 + rng.IntN(30)) // large
		default:
			exp = uint16(120 + rng.IntN(14))
		}
		v[i] = sign | exp<<7 | mant
	}
	return v
}

// TestBF16RowsAsmMatchDefinitions: the AVX512_BF16 kernels (DotBF16Rows,
// DotBF16TinyRows, BF16TinyTile) give every output the bits of DotBF16 /
// DotBF16Tiny (the Go models of vdpbf16ps
// that are tested against llama.cpp), for lengths with and without a
// tail, every row count around the four-row pass, and edge values.
func TestBF16RowsAsmMatchDefinitions(t *testing.T) {
	if !hasBF16 {
		t.Skip("this CPU lacks AVX512_BF16: DotBF16Rows and DotBF16TinyRows run the Go definitions")
	}
	rng := rand.New(rand.NewPCG(16, 17))
	for _, tiny := range []bool{false, true} {
		for _, k := range []int{32, 64, 96, 100, 127, 128, 200, 896, 4864} {
			for rows := 1; rows <= 9; rows++ {
				for _, n := range []int{rows, 4*rows + 3} {
					t.Run(fmt.Sprintf("tiny=%v/k=%d/rows=%d", tiny, k, n), func(t *testing.T) {
						testBF16Rows(t, rng, k, n, tiny)
					})
				}
			}
		}
	}
}

// testBF16Rows checks DotBF16Rows and (k a multiple of 32)
// DotBF16TinyRows for n random rows of length k against the definitions.
func testBF16Rows(t *testing.T, rng *rand.Rand, k, n int, tiny bool) {
	t.Helper()
	stride := 2*k + 10
	w := make([]byte, n*stride)
	wf := make([][]float32, n)
	for r := range n {
		bits := bf16Edge(rng, k, tiny)
		wf[r] = make([]float32, k)
		for i, h := range bits {
			binary.LittleEndian.PutUint16(w[r*stride+2*i:], h)
			wf[r][i] = bf16Widen(h)
		}
	}
	x := bf16Edge(rng, k, tiny)
	xf := make([]float32, k)
	for i, h := range x {
		xf[i] = bf16Widen(h)
	}
	got := make([]float32, n)
	DotBF16Rows(got, w, stride, x)
	for r := range n {
		requireBits(t, fmt.Sprintf("DotBF16Rows row %d", r), got[r], DotBF16(wf[r], xf))
	}
	if k%32 != 0 {
		return
	}
	DotBF16TinyRows(got, w, stride, x)
	for r := range n {
		requireBits(t, fmt.Sprintf("DotBF16TinyRows row %d", r), got[r], DotBF16Tiny(wf[r], xf))
	}
	if n < 4 {
		return
	}
	// A tile of the first 4 rows and 4 tokens: x and three more rows.
	xs := append(append([]uint16(nil), x...), bf16Edge(rng, 3*k, tiny)...)
	var tile [16]float32
	BF16TinyTile(&tile, w, stride, xs, k)
	for tok := range 4 {
		xt := make([]float32, k)
		for i, h := range xs[tok*k : (tok+1)*k] {
			xt[i] = bf16Widen(h)
		}
		for r := range 4 {
			requireBits(t, fmt.Sprintf("BF16TinyTile row %d token %d", r, tok), tile[4*tok+r], DotBF16Tiny(wf[r], xt))
		}
	}
}
