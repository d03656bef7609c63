package ggmlnum

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// TestFloatRowsMatchDefinitions: the many-row float dots and GEMM tiles
// (assembly where the CPU has AVX-512) give each output the bits of its
// one-output definition (DotF16, DotF32, DotF32Tiny), for any row count,
// length and tile shape.
func TestFloatRowsMatchDefinitions(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(12)-6)))
		}
		return v
	}
	for _, k := range []int{16, 48, 64, 100, 896, 4864} {
		for _, rows := range []int{1, 2, 3, 4, 7, 8, 9, 13} {
			t.Run(fmt.Sprintf("k=%d/rows=%d", k, rows), func(t *testing.T) {
				stride16, stride32 := 2*k+6, 4*k+8
				w16, w32 := make([]byte, rows*stride16), make([]byte, rows*stride32)
				wf := make([][]float32, rows)
				for r := range rows {
					wf[r] = vec(k)
					for i, v := range wf[r] {
						h := gguf.F32ToF16(v)
						binary.LittleEndian.PutUint16(w16[r*stride16+2*i:], h)
						binary.LittleEndian.PutUint32(w32[r*stride32+4*i:], math.Float32bits(v))
					}
				}
				x := vec(k)
				xh := append([]float32(nil), x...)
				RoundF16(xh)
				for i, v := range x {
					if want := gguf.F16ToF32(gguf.F32ToF16(v)); math.Float32bits(xh[i]) != math.Float32bits(want) {
						t.Fatalf("RoundF16[%d] of %g = %g, want %g", i, v, xh[i], want)
					}
				}
				got16, got32 := make([]float32, rows), make([]float32, rows)
				DotF16Rows(got16, w16, stride16, xh)
				DotF32Rows(got32, w32, stride32, x)
				for r := range rows {
					wr16 := make([]float32, k)
					for i := range wr16 {
						wr16[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(w16[r*stride16+2*i:]))
					}
					if want := DotF16(wr16, xh); math.Float32bits(got16[r]) != math.Float32bits(want) {
						t.Errorf("DotF16Rows row %d = %g, DotF16 %g", r, got16[r], want)
					}
					if want := DotF32(wf[r], x); math.Float32bits(got32[r]) != math.Float32bits(want) {
						t.Errorf("DotF32Rows row %d = %g, DotF32 %g", r, got32[r], want)
					}
				}
				if k%16 != 0 || rows < 4 {
					return
				}
				xs := vec(4 * k)
				for tokens := 1; tokens <= 4; tokens++ {
					for _, f16 := range []bool{false, true} {
						var out [16]float32
						w, stride := w32, stride32
						if f16 {
							w, stride = w16, stride16
						}
						TinyTile(f16, &out, w, stride, xs, k, tokens)
						for tt := range tokens {
							for r := range 4 {
								row := wf[r]
								if f16 {
									row = make([]float32, k)
									for i := range row {
										row[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(w16[r*stride16+2*i:]))
									}
								}
								if want := DotF32Tiny(row, xs[tt*k:(tt+1)*k]); math.Float32bits(out[4*tt+r]) != math.Float32bits(want) {
									t.Errorf("TinyTile f16=%v tokens=%d [t %d, r %d] = %g, DotF32Tiny %g", f16, tokens, tt, r, out[4*tt+r], want)
								}
							}
						}
					}
				}
			})
		}
	}
}
