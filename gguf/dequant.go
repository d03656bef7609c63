package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// float is the element type of the dequantization kernels. Each kernel is
// written once: instantiated at float32 it follows ggml's reference
// dequantize_row_* operation by operation (every product rounded, never
// fused); at float64 every intermediate is a float64.
type float interface{ float32 | float64 }

type dequantizer struct {
	f32 func(block []byte, out []float32)
	f64 func(block []byte, out []float64)
}

var dequantizers map[Type]dequantizer

func init() {
	dequantizers = map[Type]dequantizer{
		TypeF32:    {dqF32[float32], dqF32[float64]},
		TypeF16:    {dqF16[float32], dqF16[float64]},
		TypeBF16:   {dqBF16[float32], dqBF16[float64]},
		TypeQ4_0:   {dqQ4_0[float32], dqQ4_0[float64]},
		TypeQ4_1:   {dqQ4_1[float32], dqQ4_1[float64]},
		TypeQ5_0:   {dqQ5_0[float32], dqQ5_0[float64]},
		TypeQ5_1:   {dqQ5_1[float32], dqQ5_1[float64]},
		TypeQ8_0:   {dqQ8_0[float32], dqQ8_0[float64]},
		TypeQ2_K:   {dqQ2K[float32], dqQ2K[float64]},
		TypeQ3_K:   {dqQ3K[float32], dqQ3K[float64]},
		TypeQ4_K:   {dqQ4K[float32], dqQ4K[float64]},
		TypeQ5_K:   {dqQ5K[float32], dqQ5K[float64]},
		TypeQ6_K:   {dqQ6K[float32], dqQ6K[float64]},
		TypeQ8_K:   {dqQ8K[float32], dqQ8K[float64]},
		TypeIQ4_NL: {dqIQ4NL[float32], dqIQ4NL[float64]},
	}
}

// checkSizes validates a (src, n) pair for Dequantize and Quantize.
func checkSizes(t Type, srcLen, n int) error {
	if !t.Known() {
		return fmt.Errorf("%w: unknown tensor type %d", ErrUnsupported, uint32(t))
	}
	want, err := RowBytes(t, n)
	if err != nil {
		return err
	}
	if srcLen != want {
		return fmt.Errorf("gguf: %d elements of %s take %d bytes, got %d", n, t, want, srcLen)
	}
	return nil
}

// Dequantize decodes src, which must be exactly RowBytes(t, len(dst))
// bytes, into dst. len(dst) must be a multiple of t.BlockSize().
func Dequantize(t Type, src []byte, dst []float32) error {
	k, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("%w: cannot dequantize %s", ErrUnsupported, t)
	}
	if err := checkSizes(t, len(src), len(dst)); err != nil {
		return err
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	for i := 0; i < len(dst)/bs; i++ {
		k.f32(src[i*bb:(i+1)*bb], dst[i*bs:(i+1)*bs])
	}
	return nil
}

// DequantizeF64 is Dequantize with every intermediate computed in
// float64. The block scales are float16/float32 and the quants small
// integers, so the results are the exact values the block encodes
// (barring sums whose exponents differ by more than float64 can hold).
func DequantizeF64(t Type, src []byte, dst []float64) error {
	k, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("%w: cannot dequantize %s", ErrUnsupported, t)
	}
	if err := checkSizes(t, len(src), len(dst)); err != nil {
		return err
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	for i := 0; i < len(dst)/bs; i++ {
		k.f64(src[i*bb:(i+1)*bb], dst[i*bs:(i+1)*bs])
	}
	return nil
}

var le = binary.LittleEndian

func half[F float](b []byte) F { return F(F16ToF32(le.Uint16(b))) }

func dqF32[F float](b []byte, out []F) {
	out[0] = F(math.Float32frombits(le.Uint32(b)))
}

func dqF16[F float](b []byte, out []F) { out[0] = half[F](b) }

func dqBF16[F float](b []byte, out []F) { out[0] = F(BF16ToF32(le.Uint16(b))) }

// Q8_0: d f16, qs [32]int8; x = q·d.
func dqQ8_0[F float](b []byte, out []F) {
	d := half[F](b)
	for j := 0; j < 32; j++ {
		out[j] = F(int8(b[2+j])) * d
	}
}

// Q4_0: d f16, qs [16]uint8; low nibbles are elements 0–15, high nibbles
// 16–31; x = (q−8)·d.
func dqQ4_0[F float](b []byte, out []F) {
	d := half[F](b)
	qs := b[2:18]
	for j := 0; j < 16; j++ {
		out[j] = F(int(qs[j]&15)-8) * d
		out[j+16] = F(int(qs[j]>>4)-8) * d
	}
}

// Q4_1: d f16, m f16, qs [16]uint8; x = q·d + m.
func dqQ4_1[F float](b []byte, out []F) {
	d, m := half[F](b), half[F](b[2:])
	qs := b[4:20]
	for j := 0; j < 16; j++ {
		out[j] = F(F(qs[j]&15)*d) + m
		out[j+16] = F(F(qs[j]>>4)*d) + m
	}
}

// Q5_0: d f16, qh uint32 (the fifth bits), qs [16]uint8; x = (q−16)·d.
func dqQ5_0[F float](b []byte, out []F) {
	d := half[F](b)
	qh := le.Uint32(b[2:])
	qs := b[6:22]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>j) & 1 << 4
		h1 := byte(qh>>(j+16)) & 1 << 4
		out[j] = F(int(qs[j]&15|h0)-16) * d
		out[j+16] = F(int(qs[j]>>4|h1)-16) * d
	}
}

// Q5_1: d f16, m f16, qh uint32, qs [16]uint8; x = q·d + m.
func dqQ5_1[F float](b []byte, out []F) {
	d, m := half[F](b), half[F](b[2:])
	qh := le.Uint32(b[4:])
	qs := b[8:24]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>j) & 1 << 4
		h1 := byte(qh>>(j+16)) & 1 << 4
		out[j] = F(F(qs[j]&15|h0)*d) + m
		out[j+16] = F(F(qs[j]>>4|h1)*d) + m
	}
}

// Q8_K: d f32, qs [256]int8, bsums [16]int16 (unused here); x = q·d.
func dqQ8K[F float](b []byte, out []F) {
	d := F(math.Float32frombits(le.Uint32(b)))
	for j := 0; j < qkK; j++ {
		out[j] = F(int8(b[4+j])) * d
	}
}
