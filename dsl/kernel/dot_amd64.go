package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// hasDot512 says the CPU runs the AVX-512 row dots (F16C is implied by
// AVX-512F); hasDot256 the AVX2 ones (with F16C).
var (
	hasDot512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
	hasDot256 = cpu.X86.HasAVX2 && cpu.X86.HasF16C
)

// dot512 are the AVX-512 row dots by dtype.
var dot512 = &dotSet{name: "avx512", tab: dotTable(map[gguf.Type]*dotKernels{
	gguf.TypeF32:  {x8: dotF32x8, x4: dotF32x4, x2: dotF32x2, x1: dotF32x1},
	gguf.TypeF16:  {x8: dotF16x8, x4: dotF16x4, x2: dotF16x2, x1: dotF16x1},
	gguf.TypeQ8_0: {x8: dotQ8_0x8, x4: dotQ8_0x4, x2: dotQ8_0x2, x1: dotQ8_0x1},
	gguf.TypeQ4_0: {x8: dotQ4_0x8, x4: dotQ4_0x4, x2: dotQ4_0x2, x1: dotQ4_0x1},
	gguf.TypeQ5_0: {x8: dotQ5_0x8, x4: dotQ5_0x4, x2: dotQ5_0x2, x1: dotQ5_0x1},
	gguf.TypeQ4_K: {x1: dotQ4_Kx1, block: 256},
	gguf.TypeQ6_K: {x1: dotQ6_Kx1, block: 256},
}), round: func(x []float32) int {
	n := len(x) / 16 * 16
	if n > 0 {
		roundF16x16(&x[0], n/16)
	}
	return n
}, accum: accumPV16, rescale: rescalePV16, width: 16}

// dot256 are the AVX2 row dots by dtype: the same bits, at most two rows
// per pass (sixteen ymm registers hold two rows' 32 lanes).
var dot256 = &dotSet{name: "avx2", tab: dotTable(map[gguf.Type]*dotKernels{
	gguf.TypeF32:  {x2: dotF32y2, x1: dotF32y1},
	gguf.TypeF16:  {x2: dotF16y2, x1: dotF16y1},
	gguf.TypeQ8_0: {x2: dotQ8_0y2, x1: dotQ8_0y1},
	gguf.TypeQ4_0: {x2: dotQ4_0y2, x1: dotQ4_0y1},
	gguf.TypeQ5_0: {x2: dotQ5_0y2, x1: dotQ5_0y1},
	gguf.TypeQ4_K: {x1: dotQ4_Ky1, block: 256},
	gguf.TypeQ6_K: {x1: dotQ6_Ky1, block: 256},
}), round: func(x []float32) int {
	n := len(x) / 8 * 8
	if n > 0 {
		roundF16x8(&x[0], n/8)
	}
	return n
}, accum: accumPV8, rescale: rescalePV8, width: 8}

// dotSets returns the instruction sets this CPU runs, best first.
func dotSets() []*dotSet {
	var s []*dotSet
	if hasDot512 {
		s = append(s, dot512)
	}
	if hasDot256 {
		s = append(s, dot256)
	}
	return append(s, goDots)
}

// dotTable indexes kernels by dtype (a map lookup per pass costs more
// than a short row's dot).
func dotTable(m map[gguf.Type]*dotKernels) *[64]*dotKernels {
	var t [64]*dotKernels
	for ty, d := range m {
		t[ty] = d
	}
	return &t
}

// simdDots returns the SIMD kernels for rows of k weights of type t, or
// nil where there are none (the pure Go set, another dtype, k not a
// positive multiple of 32 or of the dtype's block).
func simdDots(t gguf.Type, k int) *dotKernels {
	tab := activeDots.Load().tab
	if tab == nil || k < 32 || k%32 != 0 || int(t) >= len(tab) {
		return nil
	}
	d := tab[t]
	if d != nil && d.block > 0 && k%d.block != 0 {
		return nil
	}
	return d
}

//go:noescape
func dotF32x8(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF32x4(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF32x2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF32x1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotF16x8(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF16x4(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF16x2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF16x1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ8_0x8(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ8_0x4(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ8_0x2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ8_0x1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ4_0x8(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ4_0x4(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ4_0x2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ4_0x1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ5_0x8(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ5_0x4(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ5_0x2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ5_0x1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ4_Kx1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ6_Kx1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotF32y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF32y1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotF16y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotF16y1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ8_0y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ8_0y1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ4_0y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ4_0y1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ5_0y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)

//go:noescape
func dotQ5_0y1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ4_Ky1(w *byte, x *float32, blocks int) float32

//go:noescape
func dotQ6_Ky1(w *byte, x *float32, blocks int) float32

// Dequantized values of the 4- and 5-bit codes (q − 8 and q − 16), the
// tables the Q4_0 and Q5_0 kernels permute from.
var (
	q4Table = func() (t [16]float32) {
		for i := range t {
			t[i] = float32(i - 8)
		}
		return
	}()
	q5Table = func() (t [32]float32) {
		for i := range t {
			t[i] = float32(i - 16)
		}
		return
	}()
	// q5Shifts are the shift counts that move bit e of a Q5_0 block's
	// fifth bits to bit 0 (the AVX2 kernels).
	q5Shifts = func() (t [32]uint32) {
		for i := range t {
			t[i] = uint32(i)
		}
		return
	}()
)

// f16Base is the address of the f16 → f32 table, where the kernels look
// up block scales.
var f16Base = uintptr(unsafe.Pointer(&f16Table()[0]))

//go:noescape
func roundF16x16(x *float32, n int)

//go:noescape
func roundF16x8(x *float32, n int)

//go:noescape
func accumPV16(out, v *float32, p float32, n int)

//go:noescape
func rescalePV16(out, v *float32, c, p float32, n int)

//go:noescape
func accumPV8(out, v *float32, p float32, n int)

//go:noescape
func rescalePV8(out, v *float32, c, p float32, n int)

// roundF16 rounds x to f16 and back in place, as ggmlnum.RoundForDot
// does for an F16 weight's input, 16 or 8 floats at a time where the
// row dots run AVX-512 or AVX2.
func roundF16(x []float32) {
	n := activeDots.Load().round(x)
	ggmlnum.RoundForDot(gguf.TypeF16, x[n:])
}
