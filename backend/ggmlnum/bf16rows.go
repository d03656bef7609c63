package ggmlnum

import (
	"encoding/binary"
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// The BF16 matmuls of ggml-cpu over whole weight rows, read in place: the
// row dots (ggml_vec_dot_bf16) and tinyBLAS's GEMM elements that
// backend/cpu calls for BF16 weights. Each output is exactly its
// one-output definition (DotBF16, DotBF16Tiny); with AVX512_BF16 several
// rows run side by side in assembly (bf16512_amd64.s), which changes the
// speed only.

// PackBF16 writes the bf16 bits of each x[i] into dst (len(x) long): x
// must already hold bf16 values (RoundForDot), so the low 16 bits of each
// float32 are zero and dropping them is exact.
func PackBF16(dst []uint16, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = uint16(math.Float32bits(v) >> 16)
	}
}

// DotBF16Rows writes out[r] = DotBF16(widen(row r), widen(x)) for the
// len(out) bf16 weight rows at w[r·stride:] (bytes, little-endian), each
// len(x) values long: ggml_vec_dot_bf16 of each row with x (packed bf16,
// PackBF16).
func DotBF16Rows(out []float32, w []byte, stride int, x []uint16) {
	rowsBF16(out, w, stride, x)
}

// DotBF16TinyRows writes out[r] = DotBF16Tiny(widen(row r), widen(x)) for
// the len(out) bf16 weight rows at w[r·stride:], each len(x) values long
// (a multiple of 32): tinyBLAS's bf16 GEMM element of each row with one
// activation row.
func DotBF16TinyRows(out []float32, w []byte, stride int, x []uint16) {
	tinyRowsBF16(out, w, stride, x)
}

// bf16Widen is the float32 value of the bf16 bits h.
func bf16Widen(h uint16) float32 { return gguf.BF16ToF32(h) }

// rowsBF16Go is DotBF16Rows on the portable definition.
func rowsBF16Go(out []float32, w []byte, stride int, x []uint16) {
	eachBF16Row(out, w, stride, x, DotBF16)
}

// tinyRowsBF16Go is DotBF16TinyRows on the portable definition.
func tinyRowsBF16Go(out []float32, w []byte, stride int, x []uint16) {
	eachBF16Row(out, w, stride, x, DotBF16Tiny)
}

// eachBF16Row sets out[r] = dot(widen(row r), widen(x)) for the bf16
// weight rows at w[r·stride:], widening x once.
func eachBF16Row(out []float32, w []byte, stride int, x []uint16, dot func(a, b []float32) float32) {
	k := len(x)
	row, xf := make([]float32, k), make([]float32, k)
	for i, h := range x {
		xf[i] = bf16Widen(h)
	}
	for r := range out {
		src := w[r*stride : r*stride+2*k]
		for i := range row {
			row[i] = bf16Widen(binary.LittleEndian.Uint16(src[2*i:]))
		}
		out[r] = dot(row, xf)
	}
}

// finishBF16 is the end of DotBF16 for one row after its two reduced
// accumulators s1 and s2 (the first len(x)&^63 elements): both added in
// float64, then the remaining products.
func finishBF16(s1, s2 float32, row []byte, x []uint16) float32 {
	sum := float64(s1)
	sum += float64(s2)
	for i := len(x) &^ 63; i < len(x); i++ {
		sum += float64(bf16Widen(binary.LittleEndian.Uint16(row[2*i:])) * bf16Widen(x[i]))
	}
	return float32(sum)
}

// BF16TinyTile computes one tile of tinyBLAS's bf16 GEMM: out[4t+r] =
// DotBF16Tiny(widen(row r), widen(x row t)) for the 4 bf16 weight rows at
// w[r·stride:] and the 4 packed activation rows at x[t·k:], each k values
// (a multiple of 32).
func BF16TinyTile(out *[16]float32, w []byte, stride int, x []uint16, k int) {
	tinyTileBF16(out, w, stride, x, k)
}

// tinyTileBF16Go is BF16TinyTile on the portable definition.
func tinyTileBF16Go(out *[16]float32, w []byte, stride int, x []uint16, k int) {
	var col [4]float32
	for t := range 4 {
		tinyRowsBF16Go(col[:], w, stride, x[t*k:(t+1)*k])
		for r := range 4 {
			out[4*t+r] = col[r]
		}
	}
}
