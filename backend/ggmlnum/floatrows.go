package ggmlnum

import "unsafe"

// The float matmuls of ggml-cpu over whole weight rows, read in place:
// the row dots and GEMM tiles backend/cpu calls for F32 and F16 weights.
// Each output is computed exactly as its one-output definition (DotF32,
// DotF16, DotF32Tiny) computes it; with AVX-512 several outputs run side
// by side in assembly (float512_amd64.s), which changes the speed only.

// DotF16Rows writes out[r] = DotF16(widen(row r), x) for the len(out) f16
// weight rows at w[r·stride:], each len(x) halves long: ggml_vec_dot_f16
// of each row with x (x already rounded to f16 values).
func DotF16Rows(out []float32, w []byte, stride int, x []float32) {
	rowsF16(out, w, stride, x)
}

// DotF32Rows writes out[r] = DotF32(row r, x) for the len(out) float32
// weight rows at w[r·stride:] (bytes), each len(x) floats long.
func DotF32Rows(out []float32, w []byte, stride int, x []float32) {
	rowsF32(out, w, stride, x)
}

// rowsF16Go is DotF16Rows on the portable definitions.
func rowsF16Go(out []float32, w []byte, stride int, x []float32) {
	var buf [256]float32
	k := len(x)
	for r := range out {
		row := w[r*stride : r*stride+2*k]
		var sum float64
		np := k &^ 63
		var a DotF32Lanes
		for c := 0; c < np; c += 256 {
			n := min(256, np-c)
			widenF16(buf[:n], row[2*c:2*(c+n)])
			fmaAcc64Go((*[64]float32)(&a), buf[:n], x[c:c+n])
		}
		sum = float64(a.Sum())
		for i := np; i < k; i++ {
			sum += float64(f16Widen(uint16(row[2*i])|uint16(row[2*i+1])<<8) * x[i])
		}
		out[r] = float32(sum)
	}
}

// rowsF32Go is DotF32Rows on the portable definition.
func rowsF32Go(out []float32, w []byte, stride int, x []float32) {
	for r := range out {
		out[r] = DotF32(f32View(w[r*stride:r*stride+4*len(x)]), x)
	}
}

// tailF16 finishes DotF16 of one row after its vector part v (the first
// len(x)&^63 elements): the rest summed in float64.
func tailF16(v float32, row []byte, x []float32) float32 {
	k := len(x)
	np := k &^ 63
	if np == k {
		return v
	}
	sum := float64(v)
	for i := np; i < k; i++ {
		sum += float64(f16Widen(uint16(row[2*i])|uint16(row[2*i+1])<<8) * x[i])
	}
	return float32(sum)
}

// tailF32 finishes DotF32 of one row after its vector part v, as DotF32.
func tailF32(v float32, row []float32, x []float32) float32 {
	n := len(x)
	np := n &^ 63
	sumf := v
	fused := n - (n-np)%8
	for i := np; i < fused; i++ {
		sumf += float32(row[i] * x[i])
	}
	for i := fused; i < n; i++ {
		sumf = FMA32(row[i], x[i], sumf)
	}
	return sumf
}

// TinyTile computes one tile of tinyBLAS's GEMM (DotF32Tiny) for F32 or
// F16 weights (f16 = true): out[4t+r] = DotF32Tiny(row r, x row t) for the
// 4 weight rows at w[r·stride:] and the tokens (1…4) activation rows at
// x[t·k:], each k elements (k a multiple of 16).
func TinyTile(f16 bool, out *[16]float32, w []byte, stride int, x []float32, k, tokens int) {
	tinyTile(f16, out, w, stride, x, k, tokens)
}

func tinyTileGo(f16 bool, out *[16]float32, w []byte, stride int, x []float32, k, tokens int) {
	var row [4096]float32
	for r := range 4 {
		for t := range tokens {
			var acc [16]float32
			for c := 0; c < k; c += len(row) {
				n := min(len(row), k-c)
				if f16 {
					widenF16(row[:n], w[r*stride+2*c:r*stride+2*(c+n)])
				} else {
					copy(row[:n], f32View(w[r*stride+4*c:r*stride+4*(c+n)]))
				}
				fmaAcc16Go(&acc, row[:n], x[t*k+c:t*k+c+n])
			}
			out[4*t+r] = Reduce16(&acc)
		}
	}
}

// RoundF16 rounds every x[i] to the nearest half (ties to even) and
// widens it back: the activation rounding of an F16 matmul.
func RoundF16(x []float32) { roundF16(x) }

func roundF16Go(x []float32) {
	for i, v := range x {
		x[i] = f16Round(v)
	}
}

// widenF16 widens the halves of src (little-endian) into dst.
func widenF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = f16Widen(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

// f32View views little-endian float32 bytes as floats (aliasing).
func f32View(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
