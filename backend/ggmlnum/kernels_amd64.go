package ggmlnum

import (
	"golang.org/x/sys/cpu"

	"github.com/metallic-go/metallic/gguf"
)

// hasFMA reports whether the kernels of kernels_amd64.s can run (AVX2,
// FMA3 and F16C).
var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// asmKernels says whether the kernel functions run assembly (true) or
// their portable Go definitions, and why not.
func asmKernels() (bool, string) {
	if !hasFMA {
		return false, "this CPU lacks AVX2, FMA3 or F16C, so kernels_amd64.s does not run"
	}
	return true, ""
}

//go:noescape
func fmaAcc16AVX(acc *[16]float32, x, y *float32, steps int)

//go:noescape
func fmaAcc64AVX(acc *[64]float32, x, y *float32, steps int)

//go:noescape
func fmaScaleAVX(acc, v *float32, p float32, n int)

//go:noescape
func q8Blocks4AVX(acc *[4][8]float32, w *byte, wstride int, x *int8, xd *float32, blocks int)

//go:noescape
func q4BlockSumsAVX(w *byte, x *int8, out *int32, blocks int)

//go:noescape
func q4KSubSumsAVX(w *byte, x *int8, out *int32, superblocks int)

//go:noescape
func q6LanesAVX(w *byte, x *int8, out *int32, superblocks int)

//go:noescape
func q8BlocksAVX(acc *[8]float32, w *byte, x *int8, xd *float32, blocks int)

func fmaAcc16(acc *[16]float32, x, y []float32) {
	n := len(x) / 16
	if !hasFMA || n == 0 {
		fmaAcc16Go(acc, x, y)
		return
	}
	_ = y[16*n-1]
	fmaAcc16AVX(acc, &x[0], &y[0], n)
}

func fmaAcc64(acc *[64]float32, x, y []float32) {
	n := len(x) / 64
	if !hasFMA || n == 0 {
		fmaAcc64Go(acc, x, y)
		return
	}
	_ = y[64*n-1]
	fmaAcc64AVX(acc, &x[0], &y[0], n)
}

func fmaScale(acc, v []float32, p float32) {
	if !hasFMA || len(acc) == 0 {
		fmaScaleGo(acc, v, p)
		return
	}
	_ = v[len(acc)-1]
	fmaScaleAVX(&acc[0], &v[0], p, len(acc))
}

func q8Blocks(acc *[8]float32, row []byte, x []int8, xd []float32) {
	n := len(xd)
	if !hasFMA || n == 0 {
		q8BlocksGo(acc, row, x, xd)
		return
	}
	_, _ = row[34*n-1], x[32*n-1]
	q8BlocksAVX(acc, &row[0], &x[0], &xd[0], n)
}

func q8Blocks4(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	n := len(xd)
	if !hasFMA || n == 0 {
		q8Blocks4Go(acc, rows, stride, x, xd)
		return
	}
	_, _ = rows[3*stride+34*n-1], x[32*n-1]
	q8Blocks4AVX(acc, &rows[0], stride, &x[0], &xd[0], n)
}

func q4BlockSums(row []byte, x []int8, out []int32) {
	n := len(out)
	if !hasFMA || n == 0 {
		q4BlockSumsGo(row, x, out)
		return
	}
	_, _ = row[18*n-1], x[32*n-1]
	q4BlockSumsAVX(&row[0], &x[0], &out[0], n)
}

func q4KSubSums(row []byte, x []int8, out []int32) {
	n := len(out) / 8
	if !hasFMA || n == 0 {
		q4KSubSumsGo(row, x, out)
		return
	}
	_, _ = row[144*n-1], x[256*n-1]
	q4KSubSumsAVX(&row[0], &x[0], &out[0], n)
}

func q6Lanes(row []byte, x []int8, out []int32) {
	n := len(out) / 8
	if !hasFMA || n == 0 {
		q6LanesGo(row, x, out)
		return
	}
	_, _ = row[210*n-1], x[256*n-1]
	q6LanesAVX(&row[0], &x[0], &out[0], n)
}

// hasAVX512 reports whether the AVX-512 kernels of float512_amd64.s and
// int512_amd64.s can run (AVX512F, BW, DQ and VL).
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL

//go:noescape
func dotF16Rows512(out *float32, w *byte, wstride int, x *float32, steps, rows int)

//go:noescape
func dotF32Rows512(out *float32, w *byte, wstride int, x *float32, steps, rows int)

//go:noescape
func tinyF16Tile512(out *[16]float32, w *byte, wstride int, x *float32, xstride, steps, tokens int)

//go:noescape
func tinyF32Tile512(out *[16]float32, w *byte, wstride int, x *float32, xstride, steps, tokens int)

//go:noescape
func roundF16Avx(x *float32, n int)

//go:noescape
func dotF16Quads512(out *float32, w *byte, wstride int, x *float32, steps, quads, pf int)

// f16Ahead is how far ahead of each row's current position
// dotF16Quads512 prefetches, in rows: the same place in the next group of
// four rows (measured on the 0.5B model's decode, 2026-12-06: 2 rows
// ahead 10% slower, 8 the same, a fixed 1–8 KiB 5–20% slower).
const f16Ahead = 4

func rowsF16(out []float32, w []byte, stride int, x []float32) {
	k := len(x)
	if !hasAVX512 || k < 64 || len(out) == 0 {
		rowsF16Go(out, w, stride, x)
		return
	}
	_ = w[(len(out)-1)*stride+2*k-1]
	q := len(out) / 4
	if q > 0 {
		dotF16Quads512(&out[0], &w[0], stride, &x[0], k/64, q, f16Ahead*stride)
	}
	if r := len(out) - 4*q; r > 0 {
		dotF16Rows512(&out[4*q], &w[4*q*stride], stride, &x[0], k/64, r)
	}
	if k%64 != 0 {
		for r := range out {
			out[r] = tailF16(out[r], w[r*stride:r*stride+2*k], x)
		}
	}
}

func rowsF32(out []float32, w []byte, stride int, x []float32) {
	k := len(x)
	if !hasAVX512 || k < 64 || len(out) == 0 {
		rowsF32Go(out, w, stride, x)
		return
	}
	_ = w[(len(out)-1)*stride+4*k-1]
	dotF32Rows512(&out[0], &w[0], stride, &x[0], k/64, len(out))
	if k%64 != 0 {
		for r := range out {
			out[r] = tailF32(out[r], f32View(w[r*stride:r*stride+4*k]), x)
		}
	}
}

func tinyTile(f16 bool, out *[16]float32, w []byte, stride int, x []float32, k, tokens int) {
	if !hasAVX512 || k < 16 || tokens < 1 || tokens > 4 {
		tinyTileGo(f16, out, w, stride, x, k, tokens)
		return
	}
	es := 4
	if f16 {
		es = 2
	}
	_, _ = w[3*stride+es*k-1], x[tokens*k-1]
	if f16 {
		tinyF16Tile512(out, &w[0], stride, &x[0], k, k/16, tokens)
		return
	}
	tinyF32Tile512(out, &w[0], stride, &x[0], k, k/16, tokens)
}

func roundF16(x []float32) {
	n := len(x) &^ 15
	if hasAVX512 && n > 0 {
		roundF16Avx(&x[0], n)
	}
	roundF16Go(x[n:])
}

//go:noescape
func q5BlocksAVX(acc *[8]float32, w *byte, x *int8, xd *float32, blocks int)

//go:noescape
func q5Blocks4AVX(acc *[4][8]float32, w *byte, wstride int, x *int8, xd *float32, blocks int)

func q5Blocks(acc *[8]float32, row []byte, x []int8, xd []float32) {
	n := len(xd)
	if !hasFMA || n == 0 {
		q5BlocksGo(acc, row, x, xd)
		return
	}
	_, _ = row[22*n-1], x[32*n-1]
	q5BlocksAVX(acc, &row[0], &x[0], &xd[0], n)
}

func q5Blocks4(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	n := len(xd)
	if !hasFMA || n == 0 {
		q5Blocks4Go(acc, rows, stride, x, xd)
		return
	}
	_, _ = rows[3*stride+22*n-1], x[32*n-1]
	q5Blocks4AVX(acc, &rows[0], stride, &x[0], &xd[0], n)
}

// hasVNNI reports whether the kernels of q8vnni_amd64.s can run.
var hasVNNI = hasAVX512 && cpu.X86.HasAVX512VNNI

//go:noescape
func q8TileVNNI(out *[16]float32, w *byte, wstride int, xu *byte, xstride int, xd *float32, dstride, blocks int)

//go:noescape
func q5TileVNNI(out *[16]float32, w *byte, wstride int, xu *byte, xstride int, xd *float32, dstride, blocks int)

//go:noescape
func q8RowsVNNI(out *float32, w *byte, wstride int, xu *byte, xd *float32, blocks, rows, pf int)

//go:noescape
func q5RowsVNNI(out *float32, w *byte, wstride int, xq *int8, xd *float32, blocks, rows, pf int)

func quantTileAsm(t gguf.Type, out *[16]float32, w []byte, stride int, xu []byte, xd []float32, k int) bool {
	nb := k / 32
	if !hasVNNI || nb == 0 {
		return false
	}
	bb := 34
	if t == gguf.TypeQ5_0 {
		bb = 22
	}
	_, _, _ = w[3*stride+bb*nb-1], xu[4*k-1], xd[4*nb-1]
	if t == gguf.TypeQ5_0 {
		q5TileVNNI(out, &w[0], stride, &xu[0], k, &xd[0], nb, nb)
	} else {
		q8TileVNNI(out, &w[0], stride, &xu[0], k, &xd[0], nb, nb)
	}
	return true
}

// quantAhead is how far ahead the decode row kernels (q8RowsVNNI,
// q5RowsVNNI) prefetch, in rows: two groups of four (measured on the 0.5B
// Q8_0 model's decode, 2026-12-06: one group ahead 7% slower at best, 3
// or 4 groups the same; Q5_0 rows are compute-bound and do not care).
const quantAhead = 8

func quantRowsAsm(t gguf.Type, out []float32, w []byte, stride int, xq []int8, xu []byte, xd []float32) bool {
	nb := len(xd)
	if !hasVNNI || nb == 0 || len(out)%4 != 0 {
		return false
	}
	bb := 34
	if t == gguf.TypeQ5_0 {
		bb = 22
	}
	_, _, _ = w[(len(out)-1)*stride+bb*nb-1], xu[32*nb-1], xq[32*nb-1]
	if t == gguf.TypeQ5_0 {
		q5RowsVNNI(&out[0], &w[0], stride, &xq[0], &xd[0], nb, len(out), quantAhead*stride)
	} else {
		q8RowsVNNI(&out[0], &w[0], stride, &xu[0], &xd[0], nb, len(out), quantAhead*stride)
	}
	return true
}

//go:noescape
func fmaChainAVX(acc float32, a, b *float32, n int) float32

//go:noescape
func fmaLanes8AVX(acc *[8]float32, v *float32, d *float32, n int)

func fmaChain(acc float32, a, b []float32) float32 {
	if !hasFMA || len(a) == 0 {
		return fmaChainGo(acc, a, b)
	}
	_ = b[len(a)-1]
	return fmaChainAVX(acc, &a[0], &b[0], len(a))
}

func fmaLanes8(acc *[8]float32, v []float32, d []float32) {
	if !hasFMA || len(d) == 0 {
		fmaLanes8Go(acc, v, d)
		return
	}
	_ = v[8*len(d)-1]
	fmaLanes8AVX(acc, &v[0], &d[0], len(d))
}

//go:noescape
func expfAVX512(y, x *float32, n int)

//go:noescape
func swigluAVX512(y, x, gate *float32, n int)

// expfN writes y[i] = Expf(x[i]) for the first len(y)&^15 elements in
// assembly and returns how many it did.
func expfN(y, x []float32) int {
	n := len(y) &^ 15
	if !hasAVX512 || n == 0 {
		return 0
	}
	_ = x[n-1]
	expfAVX512(&y[0], &x[0], n)
	return n
}

// swigluN is SwiGLU's vector part for the first len(y)&^15 elements in
// assembly; it returns how many it did.
func swigluN(y, x, g []float32) int {
	n := len(y) &^ 15
	if !hasAVX512 || n == 0 {
		return 0
	}
	_, _ = x[n-1], g[n-1]
	swigluAVX512(&y[0], &x[0], &g[0], n)
	return n
}

//go:noescape
func q4KRowVNNI(w *byte, x *int8, xsum *int32, xd *float32, superblocks int) float32

//go:noescape
func q6KRowVNNI(acc *[8]float32, w *byte, x *int8, xsum *int32, xd *float32, superblocks int)

// q4KRowsAsm is DotQ4_KRows in assembly; false if the CPU lacks AVX-512
// VNNI (or there is nothing to do).
func q4KRowsAsm(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) bool {
	nb := len(xd)
	if !hasVNNI || nb == 0 {
		return false
	}
	_, _, _ = w[(len(out)-1)*stride+144*nb-1], xq[256*nb-1], xsum[16*nb-1]
	for r := range out {
		out[r] = q4KRowVNNI(&w[r*stride], &xq[0], &xsum[0], &xd[0], nb)
	}
	return true
}

// q6KRowsAsm is DotQ6_KRows in assembly; false if the CPU lacks AVX-512
// VNNI (or there is nothing to do).
func q6KRowsAsm(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) bool {
	nb := len(xd)
	if !hasVNNI || nb == 0 {
		return false
	}
	_, _, _ = w[(len(out)-1)*stride+210*nb-1], xq[256*nb-1], xsum[16*nb-1]
	for r := range out {
		var acc [8]float32
		q6KRowVNNI(&acc, &w[r*stride], &xq[0], &xsum[0], &xd[0], nb)
		out[r] = Hsum8(&acc)
	}
	return true
}

//go:noescape
func quantizeQ8_0Avx(x *float32, qs *int8, d *float32, blocks int)

// quantizeQ8_0Asm quantizes the leading whole blocks of x in AVX-512 when
// every value is finite (the Go definition's max propagates a NaN, vmaxps
// does not) and returns how many elements it did.
func quantizeQ8_0Asm(x []float32, qs []int8, d []float32) int {
	nb := len(x) / 32
	if !hasAVX512 || nb == 0 {
		return 0
	}
	for _, v := range x[:32*nb] {
		if v-v != 0 { // NaN or ±Inf
			return 0
		}
	}
	_, _ = qs[32*nb-1], d[nb-1]
	quantizeQ8_0Avx(&x[0], &qs[0], &d[0], nb)
	return 32 * nb
}
