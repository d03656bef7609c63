package ggmlnum

// DotQ5_0 is ggml_vec_dot_q5_0_q8_0 for x86 (its AVX2 kernel, which the
// AVX-512 builds run too, and tinyBLAS's q5_0 GEMM, which computes the
// same): DotQ8_0's lanes and order with the 5-bit weights q−16, q = the
// nibble (low nibbles elements 0–15, high 16–31) with bit j of qh above
// it for element j. row holds the weight blocks (f16 d, 4 bytes qh, 16
// bytes of nibbles), xq and xd the Q8_0 activations.
func DotQ5_0(row []byte, xq []int8, xd []float32) float32 {
	var acc [8]float32
	q5Blocks(&acc, row, xq, xd)
	return Hsum8(&acc)
}

// DotQ5_0x4 is DotQ5_0 for the four weight rows at rows[r·stride:].
func DotQ5_0x4(rows []byte, stride int, xq []int8, xd []float32) [4]float32 {
	var acc [4][8]float32
	q5Blocks4(&acc, rows, stride, xq, xd)
	var out [4]float32
	for r := range out {
		out[r] = Hsum8(&acc[r])
	}
	return out
}

// q5Weights decodes the 32 weights of one Q5_0 block (22 bytes).
func q5Weights(blk []byte, w *[32]int32) {
	qh := uint32(blk[2]) | uint32(blk[3])<<8 | uint32(blk[4])<<16 | uint32(blk[5])<<24
	for j := range 16 {
		q := blk[6+j]
		w[j] = int32(q&15|byte(qh>>j&1)<<4) - 16
		w[j+16] = int32(q>>4|byte(qh>>(j+16)&1)<<4) - 16
	}
}

// q5BlocksGo is q8BlocksGo for Q5_0 weight blocks.
func q5BlocksGo(acc *[8]float32, row []byte, x []int8, xd []float32) {
	var w [32]int32
	for b, dx := range xd {
		blk := row[22*b : 22*b+22 : 22*b+22]
		d := f16Widen(uint16(blk[0])|uint16(blk[1])<<8) * dx
		q5Weights(blk, &w)
		xb := x[32*b : 32*b+32 : 32*b+32]
		for l := range 8 {
			s := w[4*l]*int32(xb[4*l]) + w[4*l+1]*int32(xb[4*l+1]) + w[4*l+2]*int32(xb[4*l+2]) + w[4*l+3]*int32(xb[4*l+3])
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
}

// q5Blocks4Go is q5BlocksGo for the four weight rows at rows[r·stride:].
func q5Blocks4Go(acc *[4][8]float32, rows []byte, stride int, x []int8, xd []float32) {
	for r := range acc {
		q5BlocksGo(&acc[r], rows[r*stride:], x, xd)
	}
}
