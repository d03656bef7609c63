package ggmlnum

// The k-quant decode dots over whole weight rows, read in place: what
// backend/cpu calls for one token's Q4_K and Q6_K matmuls. Each output is
// its one-output definition's value (DotQ4_Kx8 with gemm false, DotQ6_K);
// with AVX-512 VNNI a whole row runs in assembly (kquant512_amd64.s),
// which changes the speed only.

// DotQ4_KRows writes out[r] = DotQ4_Kx8(row r, xq, xd, xsum, false) for
// the len(out) Q4_K rows at w[r·stride:], each len(xd) superblocks long:
// ggml's repacked Q4_K GEMV for each row. xq, xd and xsum are the Q8_K
// activations (QuantizeQ8_K) and their 16-value sums (SubSums16).
func DotQ4_KRows(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) {
	nb := len(xd)
	if len(out) == 0 {
		return
	}
	if q4KRowsAsm(out, w, stride, xq, xd, xsum) {
		return
	}
	for r := range out {
		out[r] = DotQ4_Kx8(w[r*stride:r*stride+144*nb], xq, xd, xsum, false)
	}
}

// DotQ6_KRows writes out[r] = DotQ6_K(row r, xq, xd, xsum) for the
// len(out) Q6_K rows at w[r·stride:], each len(xd) superblocks long.
func DotQ6_KRows(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32) {
	nb := len(xd)
	if len(out) == 0 {
		return
	}
	if q6KRowsAsm(out, w, stride, xq, xd, xsum) {
		return
	}
	for r := range out {
		out[r] = DotQ6_K(w[r*stride:r*stride+210*nb], xq, xd, xsum)
	}
}
