package kernel

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/gguf"
)

var prelude = map[Dialect]string{
	MSL: `#include <metal_stdlib>
using namespace metal;
#define GLOBAL device
#define FN inline
FN float ld(float v) { return v; }
FN float ld(half v) { return float(v); }
FN int ld(int v) { return v; }
FN float f16_bits(ushort h) { return float(as_type<half>(h)); }
FN float bits_f32(uint u) { return as_type<float>(u); }
FN uint f32_bits(float f) { return as_type<uint>(f); }
FN float f16_round(float v) { return float(half(v)); }
typedef uint4 u32x4;
typedef float4 f4;
`,
	CUDA: `#include <cuda_fp16.h>
#define GLOBAL
#define FN __device__ inline
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
FN float ld(float v) { return v; }
FN float ld(__half v) { return __half2float(v); }
FN int ld(int v) { return v; }
FN float f16_bits(ushort h) { return __half2float(__ushort_as_half(h)); }
FN float bits_f32(uint u) { return __uint_as_float(u); }
FN uint f32_bits(float f) { return __float_as_uint(f); }
FN float f16_round(float v) { return __half2float(__float2half(v)); }
struct alignas(16) u32x4 { uint x, y, z, w; };
struct alignas(16) f4 {
    float v[4];
    FN float& operator[](int i) { return v[i]; }
    FN float operator[](int i) const { return v[i]; }
};
`,
}

// weightSrc holds the per-element weight accessors of each dtype in the
// portable subset both dialects share (GLOBAL and FN come from the
// prelude): w_T(w, rb, r, k) is element k of row r, rows rb bytes apart.
var weightSrc = map[gguf.Type]string{
	gguf.TypeF32: `FN float w_f32(const GLOBAL uchar* w, int rb, int r, int k) {
    return ((const GLOBAL float*)(w + long(r) * rb))[k];
}`,
	gguf.TypeF16: `FN float w_f16(const GLOBAL uchar* w, int rb, int r, int k) {
    return f16_bits(((const GLOBAL ushort*)(w + long(r) * rb))[k]);
}`,
	gguf.TypeBF16: `FN float w_bf16(const GLOBAL uchar* w, int rb, int r, int k) {
    return bits_f32(uint(((const GLOBAL ushort*)(w + long(r) * rb))[k]) << 16);
}`,
	gguf.TypeQ8_0: `FN float w_q8_0(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 34;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    return d * float(int(b[2 + k % 32] ^ 0x80) - 128);
}`,
	gguf.TypeQ4_0: `FN float w_q4_0(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 18;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    int j = k % 32;
    int q = j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4);
    return d * float(q - 8);
}`,
	gguf.TypeQ4_1: `FN float w_q4_1(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 20;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    float m = f16_bits(ushort(b[2] | (b[3] << 8)));
    int j = k % 32;
    int q = j < 16 ? (b[4 + j] & 15) : (b[4 + j - 16] >> 4);
    return d * float(q) + m;
}`,
	gguf.TypeQ5_0: `FN float w_q5_0(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 22;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    int j = k % 32;
    int hb = (b[2 + j / 8] >> (j % 8)) & 1;
    int q = j < 16 ? (b[6 + j] & 15) : (b[6 + j - 16] >> 4);
    return d * float((q | (hb << 4)) - 16);
}`,
	gguf.TypeQ5_1: `FN float w_q5_1(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 24;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    float m = f16_bits(ushort(b[2] | (b[3] << 8)));
    int j = k % 32;
    int hb = (b[4 + j / 8] >> (j % 8)) & 1;
    int q = j < 16 ? (b[8 + j] & 15) : (b[8 + j - 16] >> 4);
    return d * float(q | (hb << 4)) + m;
}`,
	gguf.TypeIQ4_NL: `FN float w_iq4_nl(const GLOBAL uchar* w, int rb, int r, int k) {
    const int grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const GLOBAL uchar* b = w + long(r) * rb + (k / 32) * 18;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    int j = k % 32;
    int q = j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4);
    return d * float(grid[q]);
}`,
	gguf.TypeQ5_K: `FN float w_q5_k(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 256) * 176;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    float dmin = f16_bits(ushort(b[2] | (b[3] << 8)));
    const GLOBAL uchar* s = b + 4;
    int j = k % 256;
    int c = j / 64;
    int l = j % 32;
    int hi = (j % 64) / 32;
    int is = 2 * c + hi;
    int sc;
    int m;
    if (is < 4) {
        sc = s[is] & 63;
        m = s[is + 4] & 63;
    } else {
        sc = (s[is + 4] & 15) | ((s[is - 4] >> 6) << 4);
        m = (s[is + 4] >> 4) | ((s[is] >> 6) << 4);
    }
    int qb = b[48 + 32 * c + l];
    int q = (hi != 0 ? (qb >> 4) : (qb & 15)) + 16 * ((b[16 + l] >> is) & 1);
    return d * float(sc) * float(q) - dmin * float(m);
}`,
	gguf.TypeQ4_K: `FN float w_q4_k(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 256) * 144;
    float d = f16_bits(ushort(b[0] | (b[1] << 8)));
    float dmin = f16_bits(ushort(b[2] | (b[3] << 8)));
    const GLOBAL uchar* s = b + 4;
    int j = k % 256;
    int c = j / 64;
    int l = j % 32;
    int hi = (j % 64) / 32;
    int is = 2 * c + hi;
    int sc;
    int m;
    if (is < 4) {
        sc = s[is] & 63;
        m = s[is + 4] & 63;
    } else {
        sc = (s[is + 4] & 15) | ((s[is - 4] >> 6) << 4);
        m = (s[is + 4] >> 4) | ((s[is] >> 6) << 4);
    }
    int qb = b[16 + 32 * c + l];
    int q = hi != 0 ? (qb >> 4) : (qb & 15);
    return d * float(sc) * float(q) - dmin * float(m);
}`,
	gguf.TypeQ6_K: `FN float w_q6_k(const GLOBAL uchar* w, int rb, int r, int k) {
    const GLOBAL uchar* b = w + long(r) * rb + (k / 256) * 210;
    float d = f16_bits(ushort(b[208] | (b[209] << 8)));
    int j = k % 256;
    int h = j / 128;
    int g = (j % 128) / 32;
    int l = j % 32;
    int qlb = b[64 * h + l + (g & 1) * 32];
    int ql = g >= 2 ? (qlb >> 4) : (qlb & 15);
    int qh = (b[128 + 32 * h + l] >> (2 * g)) & 3;
    int sc = int(b[192 + 8 * h + l / 16 + 2 * g] ^ 0x80) - 128;
    return d * float(sc) * float((ql | (qh << 4)) - 32);
}`,
}

// GPUWeightTypes lists the weight dtypes the MSL and CUDA sources support.
func GPUWeightTypes() []gguf.Type {
	return []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1,
		gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K}
}

func weightFn(t gguf.Type) string { return "w_" + strings.ToLower(t.String()) }

// weightInclude returns the accessor include of dtype t. Types without a
// GPU accessor get an include whose source is a #error, so the kernel still
// composes (its CPU implementation dequantizes any dtype) but a GPU backend
// reports the missing support when it compiles it.
func weightInclude(t gguf.Type) Include {
	src, ok := weightSrc[t]
	if !ok {
		src = fmt.Sprintf("#error \"weight dtype %s has no GPU accessor\"", t)
	}
	return Include{Name: weightFn(t), MSL: src, CUDA: src}
}

// W reads element k of row r of weight buffer w (row bytes rb) of dtype t.
func W(t gguf.Type, w *Buf, rb, r, k Expr) Expr {
	return F("%s(%s, %s, %s, %s)", Expr{text: weightFn(t)}, w.v, rb, r, k)
}

// ActType is the element type of an activation storage dtype.
func ActType(half bool) Type {
	if half {
		return Half
	}
	return Float
}
