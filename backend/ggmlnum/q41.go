package ggmlnum

import "math"

// The Q8_1-activation dots (Q4_1, Q5_1 weights) and IQ4_NL's, as ggml's
// x86 kernels compute them (the AVX2 kernels, which the AVX-512 builds
// run too).

// QuantizeQ8_1 quantizes x (len a multiple of 32) to Q8_1 blocks as ggml's
// x86 quantize_row_q8_1 quantizes the activations of a Q4_1/Q5_1 matmul:
// QuantizeQ8_0's quants and scale d = f16(amax/127), and s =
// f16(d′·Σq) with d′ = amax/127 unrounded. qs receives the quants, d and s
// the two halves widened back.
func QuantizeQ8_1(x []float32, qs []int8, d, s []float32) {
	QuantizeQ8_0(x, qs, d)
	for b := 0; b+32 <= len(x); b += 32 {
		var amax float32
		for _, v := range x[b : b+32] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		var sum int32
		for _, q := range qs[b : b+32] {
			sum += int32(q)
		}
		s[b/32] = f16Round(amax / 127 * float32(sum))
	}
}

// DotQ4_1 is ggml_vec_dot_q4_1_q8_1 for x86: per block the eight int32
// lanes of the unsigned nibbles (low nibbles elements 0–15, high 16–31)
// times the Q8_1 quants, fused into 8 accumulators with d = d_w·d_x; the
// offsets m_w·s_x summed apart in float32; hsum_float_8 of the
// accumulators plus that sum. row holds the blocks (f16 d, f16 m, 16
// bytes of nibbles).
func DotQ4_1(row []byte, xq []int8, xd, xs []float32) float32 {
	var acc [8]float32
	var summs float32
	var w [32]int32
	for b := range xd {
		blk := row[20*b : 20*b+20 : 20*b+20]
		for j := range 16 {
			w[j], w[j+16] = int32(blk[4+j]&15), int32(blk[4+j]>>4)
		}
		summs = FMA32(f16Widen(uint16(blk[2])|uint16(blk[3])<<8), xs[b], summs)
		laneFMA(&acc, &w, xq[32*b:32*b+32], f16Widen(uint16(blk[0])|uint16(blk[1])<<8)*xd[b])
	}
	return Hsum8(&acc) + summs
}

// DotQ5_1 is DotQ4_1 for Q5_1 blocks (f16 d, f16 m, 4 bytes qh, 16 bytes
// of nibbles; bit j of qh is the fifth bit of element j).
func DotQ5_1(row []byte, xq []int8, xd, xs []float32) float32 {
	var acc [8]float32
	var summs float32
	var w [32]int32
	for b := range xd {
		blk := row[24*b : 24*b+24 : 24*b+24]
		qh := uint32(blk[4]) | uint32(blk[5])<<8 | uint32(blk[6])<<16 | uint32(blk[7])<<24
		for j := range 16 {
			w[j] = int32(blk[8+j]&15 | byte(qh>>j&1)<<4)
			w[j+16] = int32(blk[8+j]>>4 | byte(qh>>(j+16)&1)<<4)
		}
		summs = FMA32(f16Widen(uint16(blk[2])|uint16(blk[3])<<8), xs[b], summs)
		laneFMA(&acc, &w, xq[32*b:32*b+32], f16Widen(uint16(blk[0])|uint16(blk[1])<<8)*xd[b])
	}
	return Hsum8(&acc) + summs
}

// iq4nl is ggml's kvalues_iq4nl grid.
var iq4nl = [16]int32{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// DotIQ4_NL is ggml_vec_dot_iq4_nl_q8_0 for x86 (AVX2): blocks in pairs,
// the first of each pair fused into one set of 8 lane accumulators and
// the second into another (lanes as DotQ8_0), the two sets added and
// reduced with hsum_float_8; a last unpaired block is added in float32 as
// d·Σ. row holds the blocks (f16 d, 16 bytes of grid indices: low nibbles
// elements 0–15, high 16–31).
func DotIQ4_NL(row []byte, xq []int8, xd []float32) float32 {
	var acc1, acc2 [8]float32
	var w [32]int32
	nb := len(xd)
	weights := func(b int) float32 {
		blk := row[18*b : 18*b+18 : 18*b+18]
		for j := range 16 {
			w[j], w[j+16] = iq4nl[blk[2+j]&15], iq4nl[blk[2+j]>>4]
		}
		return f16Widen(uint16(blk[0]) | uint16(blk[1])<<8)
	}
	b := 0
	for ; b+1 < nb; b += 2 {
		d := xd[b] * weights(b)
		laneFMA(&acc1, &w, xq[32*b:32*b+32], d)
		d = xd[b+1] * weights(b+1)
		laneFMA(&acc2, &w, xq[32*(b+1):32*(b+1)+32], d)
	}
	var sum [8]float32
	for l := range sum {
		sum[l] = acc1[l] + acc2[l]
	}
	sumf := Hsum8(&sum)
	for ; b < nb; b++ {
		d := xd[b] * weights(b)
		var s int32
		for i, q := range xq[32*b : 32*b+32] {
			s += w[i] * int32(q)
		}
		sumf = FMA32(d, float32(s), sumf)
	}
	return sumf
}

// laneFMA fuses one block into acc: lane l = Σ_{i<4} w[4l+i]·x[4l+i]
// (exact), acc[l] = fma(d, lane, acc[l]).
func laneFMA(acc *[8]float32, w *[32]int32, x []int8, d float32) {
	x = x[:32]
	for l := range 8 {
		s := w[4*l]*int32(x[4*l]) + w[4*l+1]*int32(x[4*l+1]) + w[4*l+2]*int32(x[4*l+2]) + w[4*l+3]*int32(x[4*l+3])
		acc[l] = FMA32(d, float32(s), acc[l])
	}
}

// DotIQ4_NLx8 is one output of ggml's repacked IQ4_NL kernels (ggml_gemv
// and ggml_gemm iq4_nl_8x8_q8_0, used for IQ4_NL matrices whose row count
// is a multiple of 8): DotQ4_0x8's order (per block an exact integer dot,
// then acc = fma(float(isum), d_w·d_x, acc)) with the weights from the
// IQ4_NL grid.
func DotIQ4_NLx8(row []byte, xq []int8, xd []float32) float32 {
	var acc float32
	for b := range xd {
		blk := row[18*b : 18*b+18 : 18*b+18]
		x := xq[32*b : 32*b+32 : 32*b+32]
		var s int32
		for j := range 16 {
			s += iq4nl[blk[2+j]&15]*int32(x[j]) + iq4nl[blk[2+j]>>4]*int32(x[j+16])
		}
		acc = FMA32(float32(s), f16Widen(uint16(blk[0])|uint16(blk[1])<<8)*xd[b], acc)
	}
	return acc
}
