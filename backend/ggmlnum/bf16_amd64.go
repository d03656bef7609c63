package ggmlnum

import "golang.org/x/sys/cpu"

// hasBF16 reports whether the AVX512_BF16 kernels of bf16512_amd64.s can
// run (vdpbf16ps on zmm registers).
var hasBF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// dotBF16Rows512 writes, for each of rows bf16 weight rows at
// w + r·wstride, the Reduce16 of DotBF16's two accumulators over steps·64
// elements to out[2r] and out[2r+1].
//
//go:noescape
func dotBF16Rows512(out *float32, w *byte, wstride int, x *uint16, steps, rows int)

// tinyBF16Rows512 writes out[r] = DotBF16Tiny of each of rows bf16 weight
// rows at w + r·wstride with x over steps·32 elements.
//
//go:noescape
func tinyBF16Rows512(out *float32, w *byte, wstride int, x *uint16, steps, rows int)

func rowsBF16(out []float32, w []byte, stride int, x []uint16) {
	k := len(x)
	if !hasBF16 || k < 64 || len(out) == 0 {
		rowsBF16Go(out, w, stride, x)
		return
	}
	_ = w[(len(out)-1)*stride+2*k-1]
	var sums [64]float32
	for r0 := 0; r0 < len(out); r0 += 32 {
		n := min(32, len(out)-r0)
		dotBF16Rows512(&sums[0], &w[r0*stride], stride, &x[0], k/64, n)
		for r := range n {
			out[r0+r] = finishBF16(sums[2*r], sums[2*r+1], w[(r0+r)*stride:], x)
		}
	}
}

func tinyRowsBF16(out []float32, w []byte, stride int, x []uint16) {
	k := len(x)
	if !hasBF16 || k < 32 || k%32 != 0 || len(out) == 0 {
		tinyRowsBF16Go(out, w, stride, x)
		return
	}
	_ = w[(len(out)-1)*stride+2*k-1]
	tinyBF16Rows512(&out[0], &w[0], stride, &x[0], k/32, len(out))
}

// tinyBF16Tile512 writes out[4t+r] = DotBF16Tiny of the row at
// w + r·wstride with the activation row at x + t·xstride (bytes), for 4
// rows × 4 tokens over steps·32 values.
//
//go:noescape
func tinyBF16Tile512(out *[16]float32, w *byte, wstride int, x *uint16, xstride, steps int)

func tinyTileBF16(out *[16]float32, w []byte, stride int, x []uint16, k int) {
	if !hasBF16 || k < 32 || k%32 != 0 {
		tinyTileBF16Go(out, w, stride, x, k)
		return
	}
	_, _ = w[3*stride+2*k-1], x[4*k-1]
	tinyBF16Tile512(out, &w[0], stride, &x[0], 2*k, k/32)
}
