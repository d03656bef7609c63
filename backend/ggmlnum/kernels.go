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

// q8BlocksGo: for each block b of row (f16 d, 32 int8), d = d_w·xd[b] and
// eight int32 lane sums of 4 products of the block's quants and
// x[32b:32b+32] are accumulated as acc[l] = fma(d, float(s_l), acc[l]).
func q8BlocksGo(acc *[8]float32, row []byte, x []int8, xd []float32) {
	for b, dx := range xd {
		blk := row[34*b : 34*b+34 : 34*b+34]
		d := f16Widen(uint16(blk[0])|uint16(blk[1])<<8) * dx
		w := blk[2:34:34]
		xb := x[32*b : 32*b+32 : 32*b+32]
		for l := range 8 {
			s := int32(int8(w[4*l]))*int32(xb[4*l]) + int32(int8(w[4*l+1]))*int32(xb[4*l+1]) +
				int32(int8(w[4*l+2]))*int32(xb[4*l+2]) + int32(int8(w[4*l+3]))*int32(xb[4*l+3])
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
}

// q8Blocks4Go is q8BlocksGo for the four weight rows at rows[r·stride:].
func q8Blocks4Go(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	for r := range acc {
		q8BlocksGo(&acc[r], rows[r*stride:], x, xd)
	}
}

// q4BlockSumsGo: out[b] = Σ (q−8)·x over Q4_0 block b of row (low nibbles
// elements 0–15, high 16–31), exactly.
func q4BlockSumsGo(row []byte, x []int8, out []int32) {
	for b := range out {
		blk := row[18*b : 18*b+18 : 18*b+18]
		xb := x[32*b : 32*b+32 : 32*b+32]
		var s int32
		for j := range 16 {
			q := blk[2+j]
			s += (int32(q&15)-8)*int32(xb[j]) + (int32(q>>4)-8)*int32(xb[j+16])
		}
		out[b] = s
	}
}

// q4KSubSumsGo: out[8s+j] = Σ q·x over sub-block j (32 elements) of Q4_K
// superblock s of row, q the unsigned nibble (chunk c of 64: low nibbles
// of qs[32c:32c+32] are sub-block 2c, high nibbles 2c+1).
func q4KSubSumsGo(row []byte, x []int8, out []int32) {
	for sb := 0; sb < len(out)/8; sb++ {
		qs := row[144*sb+16 : 144*sb+144 : 144*sb+144]
		xs := x[256*sb : 256*sb+256 : 256*sb+256]
		for c := range 4 {
			q := qs[32*c : 32*c+32]
			var d1, d2 int32
			for l := range 32 {
				d1 += int32(q[l]&15) * int32(xs[64*c+l])
				d2 += int32(q[l]>>4) * int32(xs[64*c+32+l])
			}
			out[8*sb+2*c], out[8*sb+2*c+1] = d1, d2
		}
	}
}

// q6LanesGo: for each Q6_K superblock s of row, out[8s+l] = Σ sc·q·x over
// the elements whose index mod 32 is in 4l…4l+3, q the unsigned 6-bit
// quant (ggml's AVX2 lanes before the −32 correction).
func q6LanesGo(row []byte, x []int8, out []int32) {
	for sb := 0; sb < len(out)/8; sb++ {
		blk := row[210*sb : 210*sb+210 : 210*sb+210]
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		xs := x[256*sb : 256*sb+256 : 256*sb+256]
		lanes := out[8*sb : 8*sb+8 : 8*sb+8]
		clear(lanes)
		for h := range 2 {
			for k := range 4 {
				for i := range 32 {
					lo := ql[64*h+i+32*(k&1)]
					if k >= 2 {
						lo >>= 4
					}
					q := int32(lo&15 | (qh[32*h+i]>>(2*k)&3)<<4)
					s := int32(int8(sc[8*h+2*k+i/16]))
					lanes[i/4] += s * q * int32(xs[128*h+32*k+i])
				}
			}
		}
	}
}

// fmaChainGo: acc = fma(a[i], b[i], acc) for each i in order.
func fmaChainGo(acc float32, a, b []float32) float32 {
	b = b[:len(a)]
	for i, x := range a {
		acc = FMA32(x, b[i], acc)
	}
	return acc
}

// fmaLanes8Go: acc[l] = fma(d[i], v[8i+l], acc[l]) for each i in order.
func fmaLanes8Go(acc *[8]float32, v []float32, d []float32) {
	for i, di := range d {
		for l := range acc {
			acc[l] = FMA32(di, v[8*i+l], acc[l])
		}
	}
}
