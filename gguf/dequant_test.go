package gguf

import (
	"encoding/binary"
	"math"
	"testing"
)

// Hand-built blocks. Expected values were worked out by hand from the
// block layouts (ggml-common.h) and are listed per element index; indices
// not listed are checked against `rest` when it is set.
type dqCase struct {
	typ  Type
	blk  []byte
	want map[int]float64
	rest func(i int) (float64, bool) // value for unlisted indices, if known
}

func f16b(h uint16) []byte { return []byte{byte(h), byte(h >> 8)} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func dqCases() []dqCase {
	// Q8_0: d = 0.5, q_j = j − 16.
	q8 := f16b(0x3800)
	for j := 0; j < 32; j++ {
		q8 = append(q8, byte(int8(j-16)))
	}
	// Q4_0: d = 2, qs[j] = j | (15−j)<<4.
	q40 := f16b(0x4000)
	for j := 0; j < 16; j++ {
		q40 = append(q40, byte(j|(15-j)<<4))
	}
	// Q4_1: d = 0.5, m = −1, same nibbles.
	q41 := cat(f16b(0x3800), f16b(0xbc00), q40[2:])
	// Q5_0: d = 1, qh bits 0 and 31, qs all 0x21.
	q50 := cat(f16b(0x3c00), []byte{0x01, 0, 0, 0x80}, fill(16, 0x21))
	// Q5_1: d = 0.25, m = 1, qh bit 16, qs all 0xF3.
	q51 := cat(f16b(0x3400), f16b(0x3c00), []byte{0, 0, 0x01, 0}, fill(16, 0xF3))
	// Q8_K: d = 0.125 (float32), q_j = j − 128, bsums ignored.
	q8k := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.125))
	for j := 0; j < 256; j++ {
		q8k = append(q8k, byte(int8(j-128)))
	}
	q8k = append(q8k, make([]byte, 32)...)
	// Q2_K: scale i = i, min 1 for every group; qs 0xE4 (q = shift/2)
	// except qs[16] = 0x03 and qs[33] = 0x40; d = 1, dmin = 0.5.
	q2s := make([]byte, 16)
	for i := range q2s {
		q2s[i] = byte(i | 1<<4)
	}
	q2q := fill(64, 0xE4)
	q2q[16], q2q[33] = 0x03, 0x40
	q2k := cat(q2s, q2q, f16b(0x3c00), f16b(0x3800))
	// Q3_K: d = 1; scales decode to 5 (group 0), −32 (4, 12), 19 (8), 0
	// elsewhere; qs 0x1B (q = 3 − shift/2); hmask all set except bit 0 of
	// byte 0 and bit 6 of byte 1.
	hm := fill(32, 0xFF)
	hm[0], hm[1] = 0xFE, 0xBF
	q3sc := []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0x32, 0xAA, 0xAA, 0xAA}
	q3k := cat(hm, fill(64, 0x1B), q3sc, f16b(0x3c00))
	// Q4_K / Q5_K: d = 1, dmin = 0.5, scales 1 2 3 4 5 6 0 15, mins
	// 0 0 0 0 18 0 0 3, qs all 0x71 (low 1, high 7).
	k4sc := []byte{1, 2, 3, 4, 0x40, 0, 0, 0, 0x25, 0x06, 0x00, 0x3F}
	q4k := cat(f16b(0x3c00), f16b(0x3800), k4sc, fill(128, 0x71))
	qh5 := make([]byte, 32)
	qh5[0], qh5[5] = 0x01, 0x80
	q5k := cat(f16b(0x3c00), f16b(0x3800), k4sc, qh5, fill(128, 0x71))
	// Q6_K: d = 0.5, scale i = i − 8, ql/qh zero (q = −32) except ql[0] =
	// 0x5A, qh[0] = 0xE4, ql[97] = 0x0F.
	ql := make([]byte, 128)
	ql[0], ql[97] = 0x5A, 0x0F
	qh6 := make([]byte, 64)
	qh6[0] = 0xE4
	sc6 := make([]byte, 16)
	for i := range sc6 {
		sc6[i] = byte(int8(i - 8))
	}
	q6k := cat(ql, qh6, sc6, f16b(0x3800))

	return []dqCase{
		{typ: TypeF32, blk: []byte{0, 0, 0xc0, 0xbf}, want: map[int]float64{0: -1.5}},
		{typ: TypeF16, blk: f16b(0x0001), want: map[int]float64{0: 5.9604644775390625e-08}},
		{typ: TypeF16, blk: f16b(0xc500), want: map[int]float64{0: -5}},
		{typ: TypeF16, blk: f16b(0x7c00), want: map[int]float64{0: math.Inf(1)}},
		{typ: TypeBF16, blk: f16b(0xc040), want: map[int]float64{0: -3}},
		{typ: TypeQ8_0, blk: q8, want: map[int]float64{0: -8, 15: -0.5, 16: 0, 31: 7.5}},
		{typ: TypeQ4_0, blk: q40, want: map[int]float64{0: -16, 1: -14, 15: 14, 16: 14, 17: 12, 31: -16}},
		{typ: TypeQ4_1, blk: q41, want: map[int]float64{0: -1, 1: -0.5, 15: 6.5, 16: 6.5, 31: -1}},
		{typ: TypeQ5_0, blk: q50, want: map[int]float64{0: 1, 31: 2},
			rest: func(i int) (float64, bool) {
				if i < 16 {
					return -15, true
				}
				return -14, true
			}},
		{typ: TypeQ5_1, blk: q51, want: map[int]float64{16: 8.75},
			rest: func(i int) (float64, bool) {
				if i < 16 {
					return 1.75, true
				}
				return 4.75, true
			}},
		{typ: TypeQ8_K, blk: q8k, want: map[int]float64{0: -16, 127: -0.125, 128: 0, 255: 15.875}},
		{typ: TypeQ2_K, blk: q2k, want: map[int]float64{
			0: -0.5, 1: -0.5, 16: 2.5, 17: -0.5, 32: 1.5, 48: -0.5, 49: 2.5, 64: 7.5, 80: -0.5, 96: 17.5, 112: -0.5, 113: 20.5,
			128: -0.5, 129: -0.5, 161: -0.5, 160: 9.5, 224: 41.5, 225: 13.5, 255: 44.5}},
		{typ: TypeQ3_K, blk: q3k, want: map[int]float64{
			0: -5, 1: 15, 15: 15, 16: 0, 64: -32, 79: -32, 80: 0, 128: 57, 143: 57, 192: -32, 193: 96, 255: 0}},
		{typ: TypeQ4_K, blk: q4k, want: map[int]float64{0: 1, 31: 1, 32: 14, 64: 3, 96: 28, 128: -4, 159: -4, 160: 42, 192: 0, 224: 103.5, 255: 103.5}},
		{typ: TypeQ5_K, blk: q5k, want: map[int]float64{0: 17, 1: 1, 32: 14, 128: -4, 228: 103.5, 229: 343.5, 230: 103.5}},
		{typ: TypeIQ4_NL, blk: append([]byte{0x00, 0x38, 0x10, 0xf8}, make([]byte, 14)...), // d 0.5
			want: map[int]float64{0: -63.5, 16: -52, 1: 0.5, 17: 56.5},
			rest: func(int) (float64, bool) { return -63.5, true }},
		{typ: TypeQ6_K, blk: q6k, want: map[int]float64{0: 88, 1: 128, 32: 48, 64: -10, 96: -16, 161: -17, 225: -96, 255: -112},
			rest: func(i int) (float64, bool) { return -16 * float64(i/16-8), true }},
	}
}

func TestDequantizeHandBlocks(t *testing.T) {
	covered := map[Type]bool{}
	for _, c := range dqCases() {
		covered[c.typ] = true
		n := c.typ.BlockSize()
		got32 := make([]float32, n)
		got64 := make([]float64, n)
		if err := Dequantize(c.typ, c.blk, got32); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if err := DequantizeF64(c.typ, c.blk, got64); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		for i := 0; i < n; i++ {
			want, ok := c.want[i]
			if !ok && c.rest != nil {
				want, ok = c.rest(i)
			}
			if !ok {
				continue
			}
			if float64(got32[i]) != want || got64[i] != want {
				t.Errorf("%s element %d: got %v (f32) %v (f64), want %v", c.typ, i, got32[i], got64[i], want)
			}
		}
	}
	for _, typ := range Types() {
		if typ.CanDequantize() && !covered[typ] {
			t.Errorf("%s can be dequantized but has no hand-built block", typ)
		}
	}
}

func TestDequantizeSizes(t *testing.T) {
	if err := Dequantize(TypeQ8_0, make([]byte, 34), make([]float32, 16)); err == nil {
		t.Error("16 elements of Q8_0 accepted")
	}
	if err := Dequantize(TypeQ8_0, make([]byte, 33), make([]float32, 32)); err == nil {
		t.Error("33 bytes for one Q8_0 block accepted")
	}
	if err := Dequantize(TypeIQ2_XS, make([]byte, 74), make([]float32, 256)); err == nil {
		t.Error("IQ2_XS dequantized")
	}
	dst := make([]float32, 64)
	if err := Dequantize(TypeQ8_0, make([]byte, 68), dst); err != nil {
		t.Error(err)
	}
}
