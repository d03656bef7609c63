package ggmlnum

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestBF16RowsGoMatchDefinitions: the portable row loops (what CPUs
// without AVX512_BF16 run) give each row the bits of DotBF16 and
// DotBF16Tiny on the widened row and activations.
func TestBF16RowsGoMatchDefinitions(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{32, 96, 100, 896} {
		const rows = 5
		stride := 2*k + 6
		w := make([]byte, rows*stride)
		wf := make([][]float32, rows)
		for r := range rows {
			wf[r] = make([]float32, k)
			for i := range k {
				h := randBF16(rng)
				binary.LittleEndian.PutUint16(w[r*stride+2*i:], h)
				wf[r][i] = bf16Widen(h)
			}
		}
		x := make([]uint16, k)
		xf := make([]float32, k)
		for i := range x {
			x[i] = randBF16(rng)
			xf[i] = bf16Widen(x[i])
		}
		got, tiny := make([]float32, rows), make([]float32, rows)
		rowsBF16Go(got, w, stride, x)
		if k%32 == 0 {
			tinyRowsBF16Go(tiny, w, stride, x)
		}
		if got[0] == 0 {
			t.Fatalf("k %d: row 0 dots to 0: the inputs test nothing", k)
		}
		for r := range rows {
			if want := DotBF16(wf[r], xf); got[r] != want {
				t.Errorf("k %d row %d: rowsBF16Go %v, DotBF16 %v", k, r, got[r], want)
			}
			if k%32 == 0 {
				if want := DotBF16Tiny(wf[r], xf); tiny[r] != want {
					t.Errorf("k %d row %d: tinyRowsBF16Go %v, DotBF16Tiny %v", k, r, tiny[r], want)
				}
			}
		}
	}
}

// randBF16 returns the bits of a random normal bf16 value of either sign
// with magnitude between 2^-27 and 2^14.
func randBF16(rng *rand.Rand) uint16 {
	return uint16(rng.IntN(2))<<15 | uint16(100+rng.IntN(41))<<7 | uint16(rng.IntN(128))
}
