//go:build !amd64

package ggmlnum

import (
	"runtime"

	"github.com/metallic-go/metallic/gguf"
)

// asmKernels says whether the kernel functions run assembly: never on
// this architecture, where they are the portable Go definitions.
func asmKernels() (bool, string) {
	return false, "there are no assembly kernels for " + runtime.GOARCH
}

func fmaAcc16(acc *[16]float32, x, y []float32)                   { fmaAcc16Go(acc, x, y) }
func fmaAcc64(acc *[64]float32, x, y []float32)                   { fmaAcc64Go(acc, x, y) }
func fmaScale(acc, v []float32, p float32)                        { fmaScaleGo(acc, v, p) }
func q8Blocks(acc *[8]float32, row []byte, x []int8, d []float32) { q8BlocksGo(acc, row, x, d) }

func q8Blocks4(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	q8Blocks4Go(acc, rows, stride, x, xd)
}

func q4BlockSums(row []byte, x []int8, out []int32) { q4BlockSumsGo(row, x, out) }

func q4KSubSums(row []byte, x []int8, out []int32) { q4KSubSumsGo(row, x, out) }

func q6Lanes(row []byte, x []int8, out []int32) { q6LanesGo(row, x, out) }

func rowsF16(out []float32, w []byte, stride int, x []float32) { rowsF16Go(out, w, stride, x) }
func rowsF32(out []float32, w []byte, stride int, x []float32) { rowsF32Go(out, w, stride, x) }
func roundF16(x []float32)                                     { roundF16Go(x) }

func tinyTile(f16 bool, out *[16]float32, w []byte, stride int, x []float32, k, tokens int) {
	tinyTileGo(f16, out, w, stride, x, k, tokens)
}

func q5Blocks(acc *[8]float32, row []byte, x []int8, d []float32) { q5BlocksGo(acc, row, x, d) }

func q5Blocks4(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	q5Blocks4Go(acc, rows, stride, x, xd)
}

func quantTileAsm(gguf.Type, *[16]float32, []byte, int, []byte, []float32, int) bool { return false }
func quantRowsAsm(gguf.Type, []float32, []byte, int, []int8, []byte, []float32) bool { return false }

func fmaChain(acc float32, a, b []float32) float32        { return fmaChainGo(acc, a, b) }
func fmaLanes8(acc *[8]float32, v []float32, d []float32) { fmaLanes8Go(acc, v, d) }

func expfN(y, x []float32) int      { return 0 }
func swigluN(y, x, g []float32) int { return 0 }

func q4KRowsAsm(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) bool {
	return false
}

func q6KRowsAsm(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) bool {
	return false
}

func quantizeQ8_0Asm(x []float32, qs []int8, d []float32) int { return 0 }

func rowsBF16(out []float32, w []byte, stride int, x []uint16) { rowsBF16Go(out, w, stride, x) }
func tinyRowsBF16(out []float32, w []byte, stride int, x []uint16) {
	tinyRowsBF16Go(out, w, stride, x)
}

func tinyTileBF16(out *[16]float32, w []byte, stride int, x []uint16, k int) {
	tinyTileBF16Go(out, w, stride, x, k)
}
