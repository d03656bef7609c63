#include "textflag.h"

// Constants of ggml's bytes_from_bits_32: the shuffle that spreads the 4
// bytes of qh over the 32 bytes of a vector (8 each), and the mask that
// leaves a byte all ones exactly when its bit is set.
DATA q5shuf<>+0(SB)/8, $0x0000000000000000
DATA q5shuf<>+8(SB)/8, $0x0101010101010101
DATA q5shuf<>+16(SB)/8, $0x0202020202020202
DATA q5shuf<>+24(SB)/8, $0x0303030303030303
GLOBL q5shuf<>(SB), RODATA|NOPTR, $32

DATA q5bits<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bits<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bits<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bits<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL q5bits<>(SB), RODATA|NOPTR, $32

// Q5_CONSTS loads Y11 = 0x0F bytes, Y12 = the qh shuffle, Y13 = the bit
// mask, Y14 = all ones, Y15 = 0xF0 bytes.
#define Q5_CONSTS \
	MOVL $0x0F0F0F0F, R9; \
	VMOVD R9, X11; \
	VPBROADCASTD X11, Y11; \
	VMOVDQU q5shuf<>(SB), Y12; \
	VMOVDQU q5bits<>(SB), Y13; \
	VPCMPEQB Y14, Y14, Y14; \
	MOVL $0xF0F0F0F0, R9; \
	VMOVD R9, X15; \
	VPBROADCASTD X15, Y15

// Q5_ROW is Q8_ROW (kernels_amd64.s) for one Q5_0 block at register w
// (f16 d, qh, 16 bytes of nibbles): the 32 weights are decoded as ggml's
// AVX2 kernel decodes them (bytes_from_nibbles_32, then 0xF0 or-ed into
// the bytes whose qh bit is clear: q−16 as int8), then summed with the x
// block in Y3/Y4 into 8 int32 lanes and fused into acc with d = d_w·d_x.
// Clobbers R8, Y1, Y2, Y5, Y6.
#define Q5_ROW(w, acc) \
	MOVWLZX (w), R8; \
	VMOVD R8, X5; \
	VCVTPH2PS X5, X5; \
	VBROADCASTSS X5, Y5; \
	VMULPS Y10, Y5, Y5; \
	VMOVDQU 6(w), X1; \
	VPSRLW $4, X1, X2; \
	VINSERTI128 $1, X2, Y1, Y1; \
	VPAND Y11, Y1, Y1; \
	VPBROADCASTD 2(w), Y2; \
	VPSHUFB Y12, Y2, Y2; \
	VPOR Y13, Y2, Y2; \
	VPCMPEQB Y14, Y2, Y2; \
	VPANDN Y15, Y2, Y2; \
	VPOR Y2, Y1, Y1; \
	VPMOVSXBW X1, Y6; \
	VEXTRACTI128 $1, Y1, X2; \
	VPMOVSXBW X2, Y2; \
	VPMADDWD Y3, Y6, Y6; \
	VPMADDWD Y4, Y2, Y2; \
	VPHADDD Y2, Y6, Y6; \
	VPERMQ $0xD8, Y6, Y6; \
	VCVTDQ2PS Y6, Y6; \
	VFMADD231PS Y6, Y5, acc

// func q5BlocksAVX(acc *[8]float32, w *byte, x *int8, xd *float32, blocks int)
TEXT ·q5BlocksAVX(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), AX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ xd+24(FP), DX
	MOVQ blocks+32(FP), CX
	Q5_CONSTS
	VMOVUPS (AX), Y0
q5loop:
	VPMOVSXBW (DI), Y3
	VPMOVSXBW 16(DI), Y4
	VBROADCASTSS (DX), Y10
	Q5_ROW(SI, Y0)
	ADDQ $22, SI
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q5loop
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// func q5Blocks4AVX(acc *[4][8]float32, w *byte, wstride int, x *int8, xd *float32, blocks int)
TEXT ·q5Blocks4AVX(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), AX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ xd+32(FP), DX
	MOVQ blocks+40(FP), CX
	Q5_CONSTS
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y7
	VMOVUPS 64(AX), Y8
	VMOVUPS 96(AX), Y9
	LEAQ (SI)(BX*1), R10
	LEAQ (SI)(BX*2), R11
	LEAQ (R11)(BX*1), R12
q54loop:
	VPMOVSXBW (DI), Y3
	VPMOVSXBW 16(DI), Y4
	VBROADCASTSS (DX), Y10
	Q5_ROW(SI, Y0)
	Q5_ROW(R10, Y7)
	Q5_ROW(R11, Y8)
	Q5_ROW(R12, Y9)
	ADDQ $22, SI
	ADDQ $22, R10
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q54loop
	VMOVUPS Y0, (AX)
	VMOVUPS Y7, 32(AX)
	VMOVUPS Y8, 64(AX)
	VMOVUPS Y9, 96(AX)
	VZEROUPPER
	RET
