package gguf

// Quantizers for Q4_1, Q5_0 and Q5_1, following ggml's reference rules so
// the output matches llama.cpp's quantize_row_*_ref byte for byte.

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// signedMax returns the element of largest magnitude (the first on ties).
func signedMax(x []float32) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	return mx
}

func inverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// qQ4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)).
func qQ4_1(x []float32, b []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 15
	id := inverse(d)
	le.PutUint16(b, F32ToF16(d))
	le.PutUint16(b[2:], F32ToF16(lo))
	for j := 0; j < 16; j++ {
		q0 := min(15, int((x[j]-lo)*id+0.5))
		q1 := min(15, int((x[j+16]-lo)*id+0.5))
		b[4+j] = byte(q0) | byte(q1)<<4
	}
}

// qQ5_0: the element of largest magnitude maps to −16, d = it/−16,
// q = min(31, trunc(x/d + 16.5)); bit 4 of q goes to qh.
func qQ5_0(x []float32, b []byte) {
	d := signedMax(x) / -16
	id := inverse(d)
	le.PutUint16(b, F32ToF16(d))
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := min(31, int(x[j]*id+16.5))
		q1 := min(31, int(x[j+16]*id+16.5))
		b[6+j] = byte(q0&15) | byte(q1&15)<<4
		qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
	}
	le.PutUint32(b[2:], qh)
}

// qQ5_1: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5).
func qQ5_1(x []float32, b []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 31
	id := inverse(d)
	le.PutUint16(b, F32ToF16(d))
	le.PutUint16(b[2:], F32ToF16(lo))
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := min(31, int((x[j]-lo)*id+0.5))
		q1 := min(31, int((x[j+16]-lo)*id+0.5))
		b[8+j] = byte(q0&15) | byte(q1&15)<<4
		qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
	}
	le.PutUint32(b[4:], qh)
}
