package ggmlnum

import "golang.org/x/sys/cpu"

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
