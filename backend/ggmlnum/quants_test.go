package ggmlnum

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
)

// quantDot is one weight type's reproduced vec_dot for
// TestQuantDotsAgainstGGML: the activation block size (32: Q8_0, 256:
// Q8_K) and the dot of a weight row with quantized activations.
type quantDot struct {
	kind  string // the oracle's q:TYPE
	block int    // activation block
	abb   int    // activation block bytes in the oracle's record
	wbb   int    // weight block bytes (per block of the weight type)
	wbs   int    // weight block size
	dot   func(w []byte, xq []int8, xd []float32, xsum []int32) float32
	dot4  func(rows []byte, stride int, xq []int8, xd []float32) [4]float32
	dot1  func(w []byte, xq []int8, xd, xs []float32) float32 // Q8_1 activations (Q4_1, Q5_1)
}

var quantDots = []quantDot{
	{kind: "q5_0", block: 32, abb: 34, wbb: 22, wbs: 32,
		dot: func(w []byte, xq []int8, xd []float32, _ []int32) float32 { return DotQ5_0(w, xq, xd) }, dot4: DotQ5_0x4},
	{kind: "iq4_nl", block: 32, abb: 34, wbb: 18, wbs: 32,
		dot: func(w []byte, xq []int8, xd []float32, _ []int32) float32 { return DotIQ4_NL(w, xq, xd) }},
	{kind: "q4_1", block: 32, abb: 36, wbb: 20, wbs: 32, dot1: DotQ4_1},
	{kind: "q5_1", block: 32, abb: 36, wbb: 24, wbs: 32, dot1: DotQ5_1},
}

// TestQuantDotsAgainstGGML: each reproduced quantized vec_dot is ggml's
// bit for bit (weights quantized by ggml's reference quantizer, returned
// by the oracle), and its four-row form gives the same values.
func TestQuantDotsAgainstGGML(t *testing.T) {
	v := variant(t)
	for i, q := range quantDots {
		t.Run(q.kind, func(t *testing.T) {
			needBits(t, v, testenv.AVX512)
			rng := rand.New(rand.NewPCG(31, uint64(i)))
			for _, n := range []int{96, 256, 768, 896, 4864} {
				if n%q.wbs != 0 {
					continue
				}
				xs, _, recs := oracleRecords(t, rng, "q:"+q.kind, n, 24, 4+q.abb*n/q.block+q.wbb*n/q.wbs)
				var rows [][]byte
				for p, r := range recs {
					qs, d := make([]int8, n), make([]float32, n/q.block)
					var sums []int32
					if q.block == 32 {
						QuantizeQ8_0(xs[p], qs, d)
					} else {
						QuantizeQ8_K(xs[p], qs, d)
						sums = make([]int32, n/16)
						SubSums16(qs, sums)
					}
					w := r[4+q.abb*n/q.block:]
					rows = append(rows, w)
					if q.dot1 != nil {
						xs8 := make([]float32, n/32)
						QuantizeQ8_1(xs[p], qs, d, xs8)
						for b := range n / 32 { // the oracle's Q8_1 blocks: f16 d, f16 s, 32 quants
							blk := r[4+36*b:]
							require.Equal(t, gguf.F16ToF32(uint16(blk[0])|uint16(blk[1])<<8), d[b], "%s n=%d block %d: d", q.kind, n, b)
							require.Equal(t, gguf.F16ToF32(uint16(blk[2])|uint16(blk[3])<<8), xs8[b], "%s n=%d block %d: s", q.kind, n, b)
						}
						requireBits(t, fmt.Sprintf("%s n=%d pair %d", q.kind, n, p), q.dot1(w, qs, d, xs8), recDot(r))
						continue
					}
					requireBits(t, fmt.Sprintf("%s n=%d pair %d", q.kind, n, p), q.dot(w, qs, d, sums), recDot(r))
				}
				if q.dot4 == nil {
					continue
				}
				// Four rows of the records side by side against x of record 0.
				qs, d := make([]int8, n), make([]float32, n/q.block)
				QuantizeQ8_0(xs[0], qs, d)
				stride := len(rows[0])
				got := q.dot4(slices.Concat(rows[0], rows[1], rows[2], rows[3]), stride, qs, d)
				for r := range 4 {
					requireBits(t, fmt.Sprintf("%s x4 n=%d row %d", q.kind, n, r), got[r], q.dot(rows[r], qs, d, nil))
				}
			}
		})
	}
}

// TestQuantKernelsMatchGo: the assembly block loops of the new types
// agree with their portable definitions bit for bit.
func TestQuantKernelsMatchGo(t *testing.T) {
	if ok, why := asmKernels(); !ok {
		t.Skip("nothing to compare the Go definitions with: " + why)
	}
	rng := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{0, 1, 5, 64} {
		a, b := make([]float32, n), make([]float32, 8*n)
		for i := range a {
			a[i] = float32(rng.NormFloat64() * 1e4)
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		if got, want := fmaChain(0.5, a, b[:n]), fmaChainGo(0.5, a, b[:n]); got != want {
			t.Errorf("fmaChain n=%d: %g != %g", n, got, want)
		}
		acc1 := [8]float32{1, 2, 3, 4, 5, 6, 7, 8}
		acc2 := acc1
		fmaLanes8(&acc1, b, a)
		fmaLanes8Go(&acc2, b, a)
		if acc1 != acc2 {
			t.Errorf("fmaLanes8 n=%d: %v != %v", n, acc1, acc2)
		}
	}
	for _, blocks := range []int{1, 3, 28, 152} {
		xq := randQuants(rng, 32*blocks)
		d := make([]float32, blocks)
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		rows := randBytes(rng, 4*22*blocks+5)
		stride := 22*blocks + 1
		for r := range 4 {
			for b := range blocks {
				rows[r*stride+22*b+1] &= 0x7b // finite f16 scales
			}
		}
		var a, b [8]float32
		q5Blocks(&a, rows, xq, d)
		q5BlocksGo(&b, rows, xq, d)
		if a != b {
			t.Errorf("q5Blocks %d blocks: %v != %v", blocks, a, b)
		}
		var a4, b4 [4][8]float32
		q5Blocks4(&a4, rows, stride, xq, d)
		q5Blocks4Go(&b4, rows, stride, xq, d)
		if a4 != b4 {
			t.Errorf("q5Blocks4 %d blocks: %v != %v", blocks, a4, b4)
		}
	}
}

// TestQuantTilesMatchDots: QuantTile and QuantRows (VNNI assembly where
// the CPU has it) give every output the bits of DotQ8_0 / DotQ5_0.
func TestQuantTilesMatchDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ5_0} {
		bb := 34
		if typ == gguf.TypeQ5_0 {
			bb = 22
		}
		for _, blocks := range []int{1, 2, 28, 152} {
			k := 32 * blocks
			stride := bb*blocks + 3
			const rows = 11
			w := randBytes(rng, rows*stride)
			for r := range rows {
				for b := range blocks {
					w[r*stride+bb*b+1] &= 0x7b
				}
			}
			xq := randQuants(rng, 4*k)
			xq[0], xq[1] = 127, -127
			xu := make([]byte, len(xq))
			ShiftQuants(xu, xq)
			xd := make([]float32, 4*blocks)
			for i := range xd {
				xd[i] = float32(rng.NormFloat64())
			}
			dot := func(r, tok int) float32 {
				row := w[r*stride:]
				x, d := xq[tok*k:(tok+1)*k], xd[tok*blocks:(tok+1)*blocks]
				if typ == gguf.TypeQ5_0 {
					return DotQ5_0(row, x, d)
				}
				return DotQ8_0(row, x, d)
			}
			var tile [16]float32
			QuantTile(typ, &tile, w[2*stride:], stride, xq, xu, xd, k)
			for tok := range 4 {
				for r := range 4 {
					requireBits(t, fmt.Sprintf("%v tile %d blocks [t %d r %d]", typ, blocks, tok, r), tile[4*tok+r], dot(2+r, tok))
				}
			}
			for _, n := range []int{1, 4, 8, 11} {
				out := make([]float32, n)
				QuantRows(typ, out, w, stride, xq[k:2*k], xu[k:2*k], xd[blocks:2*blocks])
				for r := range n {
					requireBits(t, fmt.Sprintf("%v rows %d blocks n %d [r %d]", typ, blocks, n, r), out[r], dot(r, 1))
				}
			}
		}
	}
}
