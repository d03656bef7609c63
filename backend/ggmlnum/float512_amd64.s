#include "textflag.h"

// AVX-512 kernels of the float dots (F32 and F16 weights). Every output
// keeps the lane layout and the order of fused multiply-adds of its Go
// definition (kernels.go, ggmlnum.go), so the results are the same bits;
// only the number of outputs computed per call changes.

// REDUCE64 reduces the four 16-lane accumulators a0…a3 of a
// ggml_vec_dot_f32 (DotF32Lanes.Sum: (a0+a2)+(a1+a3) per lane, then
// Reduce16) into the low float of X(a0). Clobbers a1, a2 and t.
#define REDUCE64(a0, a1, a2, a3, ya0, ya1, xa0, xa1) \
	VADDPS a2, a0, a0; \
	VADDPS a3, a1, a1; \
	VADDPS a1, a0, a0; \
	REDUCE16(a0, a1, ya0, ya1, xa0, xa1)

// REDUCE16 is _mm512_reduce_add_ps as GCC expands it (Reduce16): 8 sums
// of the halves, 4 of those halves, then (t0+t2)+(t1+t3). The result is
// the low float of xa; a1 is clobbered.
#define REDUCE16(a, t, ya, yt, xa, xt) \
	VEXTRACTF64X4 $1, a, yt; \
	VADDPS yt, ya, ya; \
	VEXTRACTF32X4 $1, ya, xt; \
	VADDPS xt, xa, xa; \
	VMOVHLPS xa, xa, xt; \
	VADDPS xt, xa, xa; \
	VMOVSHDUP xa, xt; \
	VADDSS xt, xa, xa

// func dotF16Rows512(out *float32, w *byte, wstride int, x *float32, steps, rows int)
// out[r] = DotF32Lanes.Sum of the 64-lane fused sums of the f16 weight
// row at w + r·wstride (widened) times x, over steps·64 elements: the
// vector part of ggml_vec_dot_f16 for each of rows rows.
TEXT ·dotF16Rows512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+40(FP), R9
f16pair:
	CMPQ R9, $2
	JLT f16single
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	LEAQ (SI)(BX*1), R10
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	MOVQ SI, R11
f16pairloop:
	PREFETCHT0 (R11)(BX*2)       // the next pair's rows: one pair ahead
	PREFETCHT0 64(R11)(BX*2)
	PREFETCHT0 (R10)(BX*2)
	PREFETCHT0 64(R10)(BX*2)
	VCVTPH2PS (R11), Z8
	VCVTPH2PS 32(R11), Z9
	VCVTPH2PS 64(R11), Z10
	VCVTPH2PS 96(R11), Z11
	VCVTPH2PS (R10), Z12
	VCVTPH2PS 32(R10), Z13
	VCVTPH2PS 64(R10), Z14
	VCVTPH2PS 96(R10), Z15
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	VFMADD231PS Z16, Z8, Z0
	VFMADD231PS Z17, Z9, Z1
	VFMADD231PS Z18, Z10, Z2
	VFMADD231PS Z19, Z11, Z3
	VFMADD231PS Z16, Z12, Z4
	VFMADD231PS Z17, Z13, Z5
	VFMADD231PS Z18, Z14, Z6
	VFMADD231PS Z19, Z15, Z7
	ADDQ $128, R11
	ADDQ $128, R10
	ADDQ $256, DI
	DECQ CX
	JNZ f16pairloop
	REDUCE64(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	VMOVSS X0, (DX)
	REDUCE64(Z4, Z5, Z6, Z7, Y4, Y5, X4, X5)
	VMOVSS X4, 4(DX)
	ADDQ $8, DX
	LEAQ (SI)(BX*2), SI
	SUBQ $2, R9
	JMP f16pair
f16single:
	TESTQ R9, R9
	JZ f16done
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
f16loop:
	VCVTPH2PS (SI), Z8
	VCVTPH2PS 32(SI), Z9
	VCVTPH2PS 64(SI), Z10
	VCVTPH2PS 96(SI), Z11
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS 64(DI), Z9, Z1
	VFMADD231PS 128(DI), Z10, Z2
	VFMADD231PS 192(DI), Z11, Z3
	ADDQ $128, SI
	ADDQ $256, DI
	DECQ CX
	JNZ f16loop
	REDUCE64(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	VMOVSS X0, (DX)
f16done:
	VZEROUPPER
	RET

// func dotF32Rows512(out *float32, w *byte, wstride int, x *float32, steps, rows int)
// dotF16Rows512 for float32 weight rows: the vector part of
// ggml_vec_dot_f32.
TEXT ·dotF32Rows512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+40(FP), R9
f32pair:
	CMPQ R9, $2
	JLT f32single
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	LEAQ (SI)(BX*1), R10
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	MOVQ SI, R11
f32pairloop:
	PREFETCHT0 (R11)(BX*2)
	PREFETCHT0 64(R11)(BX*2)
	PREFETCHT0 128(R11)(BX*2)
	PREFETCHT0 192(R11)(BX*2)
	PREFETCHT0 (R10)(BX*2)
	PREFETCHT0 64(R10)(BX*2)
	PREFETCHT0 128(R10)(BX*2)
	PREFETCHT0 192(R10)(BX*2)
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	VFMADD231PS (R11), Z16, Z0
	VFMADD231PS 64(R11), Z17, Z1
	VFMADD231PS 128(R11), Z18, Z2
	VFMADD231PS 192(R11), Z19, Z3
	VFMADD231PS (R10), Z16, Z4
	VFMADD231PS 64(R10), Z17, Z5
	VFMADD231PS 128(R10), Z18, Z6
	VFMADD231PS 192(R10), Z19, Z7
	ADDQ $256, R11
	ADDQ $256, R10
	ADDQ $256, DI
	DECQ CX
	JNZ f32pairloop
	REDUCE64(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	VMOVSS X0, (DX)
	REDUCE64(Z4, Z5, Z6, Z7, Y4, Y5, X4, X5)
	VMOVSS X4, 4(DX)
	ADDQ $8, DX
	LEAQ (SI)(BX*2), SI
	SUBQ $2, R9
	JMP f32pair
f32single:
	TESTQ R9, R9
	JZ f32done
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
f32loop:
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	VFMADD231PS (SI), Z16, Z0
	VFMADD231PS 64(SI), Z17, Z1
	VFMADD231PS 128(SI), Z18, Z2
	VFMADD231PS 192(SI), Z19, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ CX
	JNZ f32loop
	REDUCE64(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	VMOVSS X0, (DX)
f32done:
	VZEROUPPER
	RET

// TINY_FMA4(x) fuses the x row slice in Z20 (loaded from x) into the four
// accumulators of one token (rows in Z16…Z19).
#define TINY_FMA4(xoff, a0, a1, a2, a3) \
	VMOVUPS xoff, Z20; \
	VFMADD231PS Z20, Z16, a0; \
	VFMADD231PS Z20, Z17, a1; \
	VFMADD231PS Z20, Z18, a2; \
	VFMADD231PS Z20, Z19, a3

// TINYSTORE reduces the 16 accumulators Z0…Z15 (token t, row r in
// Z(4t+r)) into out[0…15] at DX.
#define TINYSTORE \
	REDUCE16(Z0, Z16, Y0, Y16, X0, X16); \
	VMOVSS X0, (DX); \
	REDUCE16(Z1, Z16, Y1, Y16, X1, X16); \
	VMOVSS X1, 4(DX); \
	REDUCE16(Z2, Z16, Y2, Y16, X2, X16); \
	VMOVSS X2, 8(DX); \
	REDUCE16(Z3, Z16, Y3, Y16, X3, X16); \
	VMOVSS X3, 12(DX); \
	REDUCE16(Z4, Z16, Y4, Y16, X4, X16); \
	VMOVSS X4, 16(DX); \
	REDUCE16(Z5, Z16, Y5, Y16, X5, X16); \
	VMOVSS X5, 20(DX); \
	REDUCE16(Z6, Z16, Y6, Y16, X6, X16); \
	VMOVSS X6, 24(DX); \
	REDUCE16(Z7, Z16, Y7, Y16, X7, X16); \
	VMOVSS X7, 28(DX); \
	REDUCE16(Z8, Z16, Y8, Y16, X8, X16); \
	VMOVSS X8, 32(DX); \
	REDUCE16(Z9, Z16, Y9, Y16, X9, X16); \
	VMOVSS X9, 36(DX); \
	REDUCE16(Z10, Z16, Y10, Y16, X10, X16); \
	VMOVSS X10, 40(DX); \
	REDUCE16(Z11, Z16, Y11, Y16, X11, X16); \
	VMOVSS X11, 44(DX); \
	REDUCE16(Z12, Z16, Y12, Y16, X12, X16); \
	VMOVSS X12, 48(DX); \
	REDUCE16(Z13, Z16, Y13, Y16, X13, X16); \
	VMOVSS X13, 52(DX); \
	REDUCE16(Z14, Z16, Y14, Y16, X14, X16); \
	VMOVSS X14, 56(DX); \
	REDUCE16(Z15, Z16, Y15, Y16, X15, X16); \
	VMOVSS X15, 60(DX)

// func tinyF16Tile512(out *[16]float32, w *byte, wstride int, x *float32, xstride, steps, tokens int)
// One tile of llamafile's tinyBLAS GEMM (AVX-512, f16 weights): for the 4
// weight rows at w + r·wstride and tokens (1…4) activation rows at
// x + t·xstride·4 bytes, out[4t+r] = Reduce16 of 16 lanes of fused sums
// over steps·16 elements (DotF32Tiny).
TEXT ·tinyF16Tile512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ xstride+32(FP), R8
	SHLQ $2, R8
	MOVQ steps+40(FP), CX
	MOVQ tokens+48(FP), R9
	LEAQ (SI)(BX*1), R10
	LEAQ (SI)(BX*2), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (DI)(R8*1), R13
	LEAQ (DI)(R8*2), R14
	LEAQ (R14)(R8*1), R15
	XORQ AX, AX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	CMPQ R9, $4
	JLT tinyf16short
tinyf16loop4:
	VCVTPH2PS (SI)(AX*2), Z16
	VCVTPH2PS (R10)(AX*2), Z17
	VCVTPH2PS (R11)(AX*2), Z18
	VCVTPH2PS (R12)(AX*2), Z19
	TINY_FMA4((DI)(AX*4), Z0, Z1, Z2, Z3)
	TINY_FMA4((R13)(AX*4), Z4, Z5, Z6, Z7)
	TINY_FMA4((R14)(AX*4), Z8, Z9, Z10, Z11)
	TINY_FMA4((R15)(AX*4), Z12, Z13, Z14, Z15)
	ADDQ $16, AX
	DECQ CX
	JNZ tinyf16loop4
	JMP tinyf16store
tinyf16short:
	VCVTPH2PS (SI)(AX*2), Z16
	VCVTPH2PS (R10)(AX*2), Z17
	VCVTPH2PS (R11)(AX*2), Z18
	VCVTPH2PS (R12)(AX*2), Z19
	TINY_FMA4((DI)(AX*4), Z0, Z1, Z2, Z3)
	CMPQ R9, $2
	JLT tinyf16next
	TINY_FMA4((R13)(AX*4), Z4, Z5, Z6, Z7)
	CMPQ R9, $3
	JLT tinyf16next
	TINY_FMA4((R14)(AX*4), Z8, Z9, Z10, Z11)
tinyf16next:
	ADDQ $16, AX
	DECQ CX
	JNZ tinyf16short
tinyf16store:
	TINYSTORE
	VZEROUPPER
	RET

// func tinyF32Tile512(out *[16]float32, w *byte, wstride int, x *float32, xstride, steps, tokens int)
// tinyF16Tile512 for float32 weights (tinyBLAS's f32 GEMM).
TEXT ·tinyF32Tile512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ xstride+32(FP), R8
	SHLQ $2, R8
	MOVQ steps+40(FP), CX
	MOVQ tokens+48(FP), R9
	LEAQ (SI)(BX*1), R10
	LEAQ (SI)(BX*2), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (DI)(R8*1), R13
	LEAQ (DI)(R8*2), R14
	LEAQ (R14)(R8*1), R15
	XORQ AX, AX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	CMPQ R9, $4
	JLT tinyf32short
tinyf32loop4:
	VMOVUPS (SI)(AX*4), Z16
	VMOVUPS (R10)(AX*4), Z17
	VMOVUPS (R11)(AX*4), Z18
	VMOVUPS (R12)(AX*4), Z19
	TINY_FMA4((DI)(AX*4), Z0, Z1, Z2, Z3)
	TINY_FMA4((R13)(AX*4), Z4, Z5, Z6, Z7)
	TINY_FMA4((R14)(AX*4), Z8, Z9, Z10, Z11)
	TINY_FMA4((R15)(AX*4), Z12, Z13, Z14, Z15)
	ADDQ $16, AX
	DECQ CX
	JNZ tinyf32loop4
	JMP tinyf32store
tinyf32short:
	VMOVUPS (SI)(AX*4), Z16
	VMOVUPS (R10)(AX*4), Z17
	VMOVUPS (R11)(AX*4), Z18
	VMOVUPS (R12)(AX*4), Z19
	TINY_FMA4((DI)(AX*4), Z0, Z1, Z2, Z3)
	CMPQ R9, $2
	JLT tinyf32next
	TINY_FMA4((R13)(AX*4), Z4, Z5, Z6, Z7)
	CMPQ R9, $3
	JLT tinyf32next
	TINY_FMA4((R14)(AX*4), Z8, Z9, Z10, Z11)
tinyf32next:
	ADDQ $16, AX
	DECQ CX
	JNZ tinyf32short
tinyf32store:
	TINYSTORE
	VZEROUPPER
	RET

// func roundF16Avx(x *float32, n int)
// x[i] = float32(f16(x[i])) for i < n (n a multiple of 16): rounded to
// the nearest half, ties to even (vcvtps2ph), and widened back.
TEXT ·roundF16Avx(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	JZ rounddone
roundloop:
	VMOVUPS (SI), Z0
	VCVTPS2PH $0, Z0, Y1
	VCVTPH2PS Y1, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	DECQ CX
	JNZ roundloop
rounddone:
	VZEROUPPER
	RET

// F16QUAD_ROW widens the 64 halves at p and fuses them with x (Z16…Z19)
// into one row's accumulators a0…a3 (DotF32Lanes' lanes and order).
#define F16QUAD_ROW(p, a0, a1, a2, a3) \
	VCVTPH2PS (p), Z20; \
	VCVTPH2PS 32(p), Z21; \
	VCVTPH2PS 64(p), Z22; \
	VCVTPH2PS 96(p), Z23; \
	VFMADD231PS Z16, Z20, a0; \
	VFMADD231PS Z17, Z21, a1; \
	VFMADD231PS Z18, Z22, a2; \
	VFMADD231PS Z19, Z23, a3

// func dotF16Quads512(out *float32, w *byte, wstride int, x *float32, steps, quads, pf int)
// dotF16Rows512 for 4·quads rows, four rows per pass (each row's lanes
// and fused multiply-adds as there), prefetching pf bytes ahead of each
// row's current position.
TEXT ·dotF16Quads512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ quads+40(FP), R9
	MOVQ pf+48(FP), R8
quadnext:
	TESTQ R9, R9
	JZ quaddone
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	MOVQ SI, R11
	LEAQ (SI)(BX*1), R12
	LEAQ (SI)(BX*2), R13
	LEAQ (R12)(BX*2), R14
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
quadloop:
	PREFETCHT0 (R11)(R8*1)
	PREFETCHT0 64(R11)(R8*1)
	PREFETCHT0 (R12)(R8*1)
	PREFETCHT0 64(R12)(R8*1)
	PREFETCHT0 (R13)(R8*1)
	PREFETCHT0 64(R13)(R8*1)
	PREFETCHT0 (R14)(R8*1)
	PREFETCHT0 64(R14)(R8*1)
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	F16QUAD_ROW(R11, Z0, Z1, Z2, Z3)
	F16QUAD_ROW(R12, Z4, Z5, Z6, Z7)
	F16QUAD_ROW(R13, Z8, Z9, Z10, Z11)
	F16QUAD_ROW(R14, Z12, Z13, Z14, Z15)
	ADDQ $128, R11
	ADDQ $128, R12
	ADDQ $128, R13
	ADDQ $128, R14
	ADDQ $256, DI
	DECQ CX
	JNZ quadloop
	REDUCE64(Z0, Z1, Z2, Z3, Y0, Y1, X0, X1)
	VMOVSS X0, (DX)
	REDUCE64(Z4, Z5, Z6, Z7, Y4, Y5, X4, X5)
	VMOVSS X4, 4(DX)
	REDUCE64(Z8, Z9, Z10, Z11, Y8, Y9, X8, X9)
	VMOVSS X8, 8(DX)
	REDUCE64(Z12, Z13, Z14, Z15, Y12, Y13, X12, X13)
	VMOVSS X12, 12(DX)
	ADDQ $16, DX
	LEAQ (SI)(BX*4), SI
	DECQ R9
	JMP quadnext
quaddone:
	VZEROUPPER
	RET
