package ggmlnum

import "github.com/metallic-go/metallic/gguf"

// Many-output forms of the Q8_0-activation dots (Q8_0 and Q5_0 weights),
// for backend/cpu's matmuls. Each output is exactly DotQ8_0 / DotQ5_0; on
// a CPU with AVX-512 VNNI they run in q8vnni_amd64.s, two outputs per
// register, the weights read once for 4 tokens of a prompt.

// TileTypes reports whether QuantTile and QuantRows take weights of type t.
func TileTypes(t gguf.Type) bool { return t == gguf.TypeQ8_0 || t == gguf.TypeQ5_0 }

// ShiftQuants writes xu[i] = xq[i] + 128 as a byte: the unsigned form of
// the activations the VNNI kernels multiply.
func ShiftQuants(xu []byte, xq []int8) {
	xu = xu[:len(xq)]
	for i, q := range xq {
		xu[i] = byte(q) ^ 0x80
	}
}

// QuantTile writes out[4t+r] = the dot of weight row r (4 rows of type t,
// Q8_0 or Q5_0, at w[r·stride:]) with token t (4 tokens: quants xq[t·k:],
// the same +128 in xu, block scales xd[t·k/32:]), k elements each.
func QuantTile(t gguf.Type, out *[16]float32, w []byte, stride int, xq []int8, xu []byte, xd []float32, k int) {
	if quantTileAsm(t, out, w, stride, xu, xd, k) {
		return
	}
	nb := k / 32
	for tt := range 4 {
		r := quantDot4(t, w, stride, xq[tt*k:(tt+1)*k], xd[tt*nb:(tt+1)*nb])
		for i, v := range r {
			out[4*tt+i] = v
		}
	}
}

// QuantRows writes out[r] = the dot of weight row r (len(out) rows of
// type t at w[r·stride:]) with one token's activations xq (and xu, xd).
func QuantRows(t gguf.Type, out []float32, w []byte, stride int, xq []int8, xu []byte, xd []float32) {
	n := len(out) &^ 3
	if n > 0 && quantRowsAsm(t, out[:n], w, stride, xq, xu, xd) {
		out, w = out[n:], w[n*stride:]
	}
	r := 0
	for ; r+4 <= len(out); r += 4 {
		v := quantDot4(t, w[r*stride:], stride, xq, xd)
		copy(out[r:r+4], v[:])
	}
	for ; r < len(out); r++ {
		if t == gguf.TypeQ5_0 {
			out[r] = DotQ5_0(w[r*stride:], xq, xd)
		} else {
			out[r] = DotQ8_0(w[r*stride:], xq, xd)
		}
	}
}

func quantDot4(t gguf.Type, w []byte, stride int, xq []int8, xd []float32) [4]float32 {
	if t == gguf.TypeQ5_0 {
		return DotQ5_0x4(w, stride, xq, xd)
	}
	return DotQ8_0x4(w, stride, xq, xd)
}
