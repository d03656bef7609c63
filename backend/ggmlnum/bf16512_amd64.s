#include "textflag.h"

// AVX512_BF16 kernels of the BF16 dots: vdpbf16ps lane l of a 32-value
// step takes values 2l and 2l+1 (the odd product added first, each sum
// rounded once, denormals flushed), the lane layout of dpbf16, DotBF16 and
// DotBF16Tiny (ggmlnum.go). Weight rows are read in place. Go's
// assembler has no VDPBF16PS, so each one is spelled out as its EVEX bytes
// (as clang encodes it; the comment names the instruction in Go's operand
// order: memory, second source, accumulator).

// REDUCE16 is _mm512_reduce_add_ps as GCC expands it (Reduce16); the
// result is the low float of xa, t is clobbered.
#define REDUCE16(a, t, ya, yt, xa, xt) \
	VEXTRACTF64X4 $1, a, yt; \
	VADDPS yt, ya, ya; \
	VEXTRACTF32X4 $1, ya, xt; \
	VADDPS xt, xa, xa; \
	VMOVHLPS xa, xa, xt; \
	VADDPS xt, xa, xa; \
	VMOVSHDUP xa, xt; \
	VADDSS xt, xa, xa

// func dotBF16Rows512(out *float32, w *byte, wstride int, x *uint16, steps, rows int)
// out[2r], out[2r+1] = Reduce16 of the two accumulators of DotBF16 (values
// 0…31 and 32…63 of each 64-value step) of the row at w + r·wstride with
// x, over steps·64 values. Rows go four at a time, then one at a time.
TEXT ·dotBF16Rows512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+40(FP), R9
bquad:
	CMPQ R9, $4
	JLT bsingle
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	MOVQ SI, R10
	LEAQ (SI)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
bquadloop:
	PREFETCHT0 (R10)(BX*4) // the same place four rows on
	PREFETCHT0 (R11)(BX*4)
	PREFETCHT0 (R12)(BX*4)
	PREFETCHT0 (R13)(BX*4)
	VMOVUPS (DI), Z8
	VMOVUPS 64(DI), Z9
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x02 // VDPBF16PS (R10), Z8, Z0
	BYTE $0x62; BYTE $0xd2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0x4a; BYTE $0x01 // VDPBF16PS 64(R10), Z9, Z1
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x13 // VDPBF16PS (R11), Z8, Z2
	BYTE $0x62; BYTE $0xd2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0x5b; BYTE $0x01 // VDPBF16PS 64(R11), Z9, Z3
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x24; BYTE $0x24 // VDPBF16PS (R12), Z8, Z4
	BYTE $0x62; BYTE $0xd2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0x6c; BYTE $0x24; BYTE $0x01 // VDPBF16PS 64(R12), Z9, Z5
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x75; BYTE $0x00 // VDPBF16PS (R13), Z8, Z6
	BYTE $0x62; BYTE $0xd2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0x7d; BYTE $0x01 // VDPBF16PS 64(R13), Z9, Z7
	ADDQ $128, DI
	ADDQ $128, R10
	ADDQ $128, R11
	ADDQ $128, R12
	ADDQ $128, R13
	DECQ CX
	JNZ bquadloop
	REDUCE16(Z0, Z8, Y0, Y8, X0, X8)
	REDUCE16(Z1, Z8, Y1, Y8, X1, X8)
	REDUCE16(Z2, Z8, Y2, Y8, X2, X8)
	REDUCE16(Z3, Z8, Y3, Y8, X3, X8)
	REDUCE16(Z4, Z8, Y4, Y8, X4, X8)
	REDUCE16(Z5, Z8, Y5, Y8, X5, X8)
	REDUCE16(Z6, Z8, Y6, Y8, X6, X8)
	REDUCE16(Z7, Z8, Y7, Y8, X7, X8)
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	VMOVSS X4, 16(DX)
	VMOVSS X5, 20(DX)
	VMOVSS X6, 24(DX)
	VMOVSS X7, 28(DX)
	ADDQ $32, DX
	LEAQ (SI)(BX*4), SI
	SUBQ $4, R9
	JMP bquad
bsingle:
	CMPQ R9, $1
	JLT bdone
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	MOVQ SI, R10
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
bsingleloop:
	VMOVUPS (DI), Z8
	VMOVUPS 64(DI), Z9
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x02 // VDPBF16PS (R10), Z8, Z0
	BYTE $0x62; BYTE $0xd2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0x4a; BYTE $0x01 // VDPBF16PS 64(R10), Z9, Z1
	ADDQ $128, DI
	ADDQ $128, R10
	DECQ CX
	JNZ bsingleloop
	REDUCE16(Z0, Z8, Y0, Y8, X0, X8)
	REDUCE16(Z1, Z8, Y1, Y8, X1, X8)
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	ADDQ $8, DX
	ADDQ BX, SI
	DECQ R9
	JMP bsingle
bdone:
	VZEROUPPER
	RET

// func tinyBF16Rows512(out *float32, w *byte, wstride int, x *uint16, steps, rows int)
// out[r] = DotBF16Tiny of the row at w + r·wstride with x over steps·32
// values: one accumulator per row. Rows go four at a time, then one at a
// time.
TEXT ·tinyBF16Rows512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+40(FP), R9
tquad:
	CMPQ R9, $4
	JLT tsingle
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	MOVQ SI, R10
	LEAQ (SI)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
tquadloop:
	VMOVUPS (DI), Z8
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x02 // VDPBF16PS (R10), Z8, Z0
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x0b // VDPBF16PS (R11), Z8, Z1
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x14; BYTE $0x24 // VDPBF16PS (R12), Z8, Z2
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x5d; BYTE $0x00 // VDPBF16PS (R13), Z8, Z3
	ADDQ $64, DI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $64, R12
	ADDQ $64, R13
	DECQ CX
	JNZ tquadloop
	REDUCE16(Z0, Z8, Y0, Y8, X0, X8)
	REDUCE16(Z1, Z8, Y1, Y8, X1, X8)
	REDUCE16(Z2, Z8, Y2, Y8, X2, X8)
	REDUCE16(Z3, Z8, Y3, Y8, X3, X8)
	VMOVSS X0, (DX)
	VMOVSS X1, 4(DX)
	VMOVSS X2, 8(DX)
	VMOVSS X3, 12(DX)
	ADDQ $16, DX
	LEAQ (SI)(BX*4), SI
	SUBQ $4, R9
	JMP tquad
tsingle:
	CMPQ R9, $1
	JLT tdone
	MOVQ x+24(FP), DI
	MOVQ steps+32(FP), CX
	MOVQ SI, R10
	VXORPS Z0, Z0, Z0
tsingleloop:
	VMOVUPS (DI), Z8
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0x02 // VDPBF16PS (R10), Z8, Z0
	ADDQ $64, DI
	ADDQ $64, R10
	DECQ CX
	JNZ tsingleloop
	REDUCE16(Z0, Z8, Y0, Y8, X0, X8)
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ BX, SI
	DECQ R9
	JMP tsingle
tdone:
	VZEROUPPER
	RET

// func tinyBF16Tile512(out *[16]float32, w *byte, wstride int, x *uint16, xstride, steps int)
// out[4t+r] = DotBF16Tiny of the row at w + r·wstride with the activation
// row at x + t·xstride (bytes), for 4 rows × 4 tokens over steps·32
// values: 16 accumulators, each weight and activation vector loaded once
// per step.
TEXT ·tinyBF16Tile512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), R10
	MOVQ wstride+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ xstride+32(FP), R8
	MOVQ steps+40(FP), CX
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	LEAQ (DI)(R8*2), R9
	ADDQ R8, R9
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
tileloop:
	VMOVUPS (DI), Z16
	VMOVUPS (DI)(R8*1), Z17
	VMOVUPS (DI)(R8*2), Z18
	VMOVUPS (R9), Z19
	VMOVUPS (R10), Z20
	VMOVUPS (R11), Z21
	VMOVUPS (R12), Z22
	VMOVUPS (R13), Z23
	BYTE $0x62; BYTE $0xb2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xc4 // VDPBF16PS Z20, Z16, Z0
	BYTE $0x62; BYTE $0xb2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xcd // VDPBF16PS Z21, Z16, Z1
	BYTE $0x62; BYTE $0xb2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xd6 // VDPBF16PS Z22, Z16, Z2
	BYTE $0x62; BYTE $0xb2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xdf // VDPBF16PS Z23, Z16, Z3
	BYTE $0x62; BYTE $0xb2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xe4 // VDPBF16PS Z20, Z17, Z4
	BYTE $0x62; BYTE $0xb2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xed // VDPBF16PS Z21, Z17, Z5
	BYTE $0x62; BYTE $0xb2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xf6 // VDPBF16PS Z22, Z17, Z6
	BYTE $0x62; BYTE $0xb2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xff // VDPBF16PS Z23, Z17, Z7
	BYTE $0x62; BYTE $0x32; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xc4 // VDPBF16PS Z20, Z18, Z8
	BYTE $0x62; BYTE $0x32; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xcd // VDPBF16PS Z21, Z18, Z9
	BYTE $0x62; BYTE $0x32; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xd6 // VDPBF16PS Z22, Z18, Z10
	BYTE $0x62; BYTE $0x32; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xdf // VDPBF16PS Z23, Z18, Z11
	BYTE $0x62; BYTE $0x32; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xe4 // VDPBF16PS Z20, Z19, Z12
	BYTE $0x62; BYTE $0x32; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xed // VDPBF16PS Z21, Z19, Z13
	BYTE $0x62; BYTE $0x32; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xf6 // VDPBF16PS Z22, Z19, Z14
	BYTE $0x62; BYTE $0x32; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xff // VDPBF16PS Z23, Z19, Z15
	ADDQ $64, DI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $64, R12
	ADDQ $64, R13
	DECQ CX
	JNZ tileloop
	REDUCE16(Z0, Z24, Y0, Y24, X0, X24)
	VMOVSS X0, 0(DX)
	REDUCE16(Z1, Z24, Y1, Y24, X1, X24)
	VMOVSS X1, 4(DX)
	REDUCE16(Z2, Z24, Y2, Y24, X2, X24)
	VMOVSS X2, 8(DX)
	REDUCE16(Z3, Z24, Y3, Y24, X3, X24)
	VMOVSS X3, 12(DX)
	REDUCE16(Z4, Z24, Y4, Y24, X4, X24)
	VMOVSS X4, 16(DX)
	REDUCE16(Z5, Z24, Y5, Y24, X5, X24)
	VMOVSS X5, 20(DX)
	REDUCE16(Z6, Z24, Y6, Y24, X6, X24)
	VMOVSS X6, 24(DX)
	REDUCE16(Z7, Z24, Y7, Y24, X7, X24)
	VMOVSS X7, 28(DX)
	REDUCE16(Z8, Z24, Y8, Y24, X8, X24)
	VMOVSS X8, 32(DX)
	REDUCE16(Z9, Z24, Y9, Y24, X9, X24)
	VMOVSS X9, 36(DX)
	REDUCE16(Z10, Z24, Y10, Y24, X10, X24)
	VMOVSS X10, 40(DX)
	REDUCE16(Z11, Z24, Y11, Y24, X11, X24)
	VMOVSS X11, 44(DX)
	REDUCE16(Z12, Z24, Y12, Y24, X12, X24)
	VMOVSS X12, 48(DX)
	REDUCE16(Z13, Z24, Y13, Y24, X13, X24)
	VMOVSS X13, 52(DX)
	REDUCE16(Z14, Z24, Y14, Y24, X14, X24)
	VMOVSS X14, 56(DX)
	REDUCE16(Z15, Z24, Y15, Y24, X15, X24)
	VMOVSS X15, 60(DX)
	VZEROUPPER
	RET
