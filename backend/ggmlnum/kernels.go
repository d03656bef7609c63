package ggmlnum

// The inner loops of the dots, each a sequence of fused multiply-adds in a
// fixed lane layout. kernels_amd64.s runs them with the CPU's own vfmadd
// when it has AVX2 and FMA (one rounding per step, like FMA32); the
// functions below are the portable definition and fallback.

// fmaAcc16Go: acc[l] = fma(x[i+l], y[i+l], acc[l]) for each step i of 16.
func fmaAcc16Go(acc *[16]float32, x, y []float32) {
	for i := 0; i+16 <= len(x); i += 16 {
		fma16(acc, (*[16]float32)(x[i:i+16]), (*[16]float32)(y[i:i+16]))
	}
}

// fmaAcc64Go: acc[l] = fma(x[i+l], y[i+l], acc[l]) for each step i of 64.
func fmaAcc64Go(acc *[64]float32, x, y []float32) {
	for i := 0; i+64 <= len(x); i += 64 {
		for j := 0; j < 64; j += 16 {
			fma16((*[16]float32)(acc[j:j+16]), (*[16]float32)(x[i+j:i+j+16]), (*[16]float32)(y[i+j:i+j+16]))
		}
	}
}

// fmaScaleGo: acc[i] = fma(v[i], p, acc[i]).
func fmaScaleGo(acc, v []float32, p float32) {
	v = v[:len(acc)]
	for i, x := range v {
		acc[i] = FMA32(x, p, acc[i])
	}
}

// q8BlocksGo: for each block b, eight int32 lane sums of 4 products of the
// weight block's quants (row[34b+2:34b+34]) and x[32b:32b+32] are
// accumulated as acc[l] = fma(d[b], float(s_l), acc[l]).
func q8BlocksGo(acc *[8]float32, row []byte, x []int8, d []float32) {
	for b, db := range d {
		w := row[34*b+2 : 34*b+34 : 34*b+34]
		xb := x[32*b : 32*b+32 : 32*b+32]
		for l := range 8 {
			s := int32(int8(w[4*l]))*int32(xb[4*l]) + int32(int8(w[4*l+1]))*int32(xb[4*l+1]) +
				int32(int8(w[4*l+2]))*int32(xb[4*l+2]) + int32(int8(w[4*l+3]))*int32(xb[4*l+3])
			acc[l] = FMA32(db, float32(s), acc[l])
		}
	}
}
