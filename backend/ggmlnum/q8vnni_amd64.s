#include "textflag.h"

// AVX-512 VNNI kernels of the Q8_0-activation dots (Q8_0 and Q5_0
// weights). ggml's AVX2 kernels (and tinyBLAS's, for a prompt) compute,
// per block of 32, eight exact int32 lane sums of 4 products (lane l =
// elements 4l…4l+3), convert them to float and fuse them into 8 float
// accumulators with d = d_w·d_x: acc_l = fma(d, s_l, acc_l), then
// hsum_float_8. These kernels keep that arithmetic per output, with two
// outputs in the halves of one zmm register. The integer sums come from
// vpdpbusd (unsigned × signed bytes) on x+128: Σ(x+128)·w − 128·Σw = Σx·w
// exactly, the correction −128·Σw being itself a vpdpbusd of 0x80 bytes.

// Q5_DECODE decodes the Q5_0 block at register w into the 32 int8 weights
// q−16 in Y0, as ggml's bytes_from_nibbles_32 / bytes_from_bits_32
// (constants in Y1…Y5: 0x0F bytes, the qh shuffle, the bit mask, all
// ones, 0xF0 bytes). Clobbers Y6, Y7.
#define Q5_DECODE(w) \
	VMOVDQU 6(w), X0; \
	VPSRLW $4, X0, X6; \
	VINSERTI128 $1, X6, Y0, Y0; \
	VPAND Y1, Y0, Y0; \
	VPBROADCASTD 2(w), Y6; \
	VPSHUFB Y2, Y6, Y6; \
	VPOR Y3, Y6, Y6; \
	VPCMPEQB Y4, Y6, Y6; \
	VPANDN Y5, Y6, Y6; \
	VPOR Y6, Y0, Y0

#define Q5_CONSTS5 \
	MOVL $0x0F0F0F0F, AX; \
	VMOVD AX, X1; \
	VPBROADCASTD X1, Y1; \
	VMOVDQU q5shufv<>(SB), Y2; \
	VMOVDQU q5bitsv<>(SB), Y3; \
	VPCMPEQB Y4, Y4, Y4; \
	MOVL $0xF0F0F0F0, AX; \
	VMOVD AX, X5; \
	VPBROADCASTD X5, Y5

DATA q5shufv<>+0(SB)/8, $0x0000000000000000
DATA q5shufv<>+8(SB)/8, $0x0101010101010101
DATA q5shufv<>+16(SB)/8, $0x0202020202020202
DATA q5shufv<>+24(SB)/8, $0x0303030303030303
GLOBL q5shufv<>(SB), RODATA|NOPTR, $32

DATA q5bitsv<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bitsv<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bitsv<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA q5bitsv<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL q5bitsv<>(SB), RODATA|NOPTR, $32

// TILE_X loads the block's activations of the 4 tokens: Z24 = [x'0 | x'1],
// Z25 = [x'2 | x'3] (x' = x+128 bytes; token t at DI + t·R8, token 3 at
// R14) and Z26, Z27 their scales d_x broadcast over each half (token t's
// at R9 + t·R13, token 3's at R15).
#define TILE_X \
	VMOVDQU64 (DI), Y24; \
	VINSERTI64X4 $1, (DI)(R8*1), Z24, Z24; \
	VMOVDQU64 (DI)(R8*2), Y25; \
	VINSERTI64X4 $1, (R14), Z25, Z25; \
	VBROADCASTSS (R9), Y26; \
	VBROADCASTSS (R9)(R13*1), Y8; \
	VINSERTF64X4 $1, Y8, Z26, Z26; \
	VBROADCASTSS (R9)(R13*2), Y27; \
	VBROADCASTSS (R15), Y8; \
	VINSERTF64X4 $1, Y8, Z27, Z27

// TILE_ROW fuses one weight row's block (its 32 int8 weights in both
// halves of Z28, its f16 scale at w) into the accumulators of the 4 tokens
// (a0 = tokens 0|1, a1 = tokens 2|3). Z29 = −128·Σw per lane; Z30 zero,
// Z31 0x80 bytes. Clobbers Z8…Z10, Z29.
#define TILE_ROW(w, a0, a1) \
	VPXORD Z29, Z29, Z29; \
	VPDPBUSD Z28, Z31, Z29; \
	VPSUBD Z29, Z30, Z29; \
	VPBROADCASTW (w), Y10; \
	VCVTPH2PS Y10, Z10; \
	VMOVDQA64 Z29, Z8; \
	VPDPBUSD Z28, Z24, Z8; \
	VCVTDQ2PS Z8, Z8; \
	VMULPS Z26, Z10, Z9; \
	VFMADD231PS Z8, Z9, a0; \
	VMOVDQA64 Z29, Z8; \
	VPDPBUSD Z28, Z25, Z8; \
	VCVTDQ2PS Z8, Z8; \
	VMULPS Z27, Z10, Z9; \
	VFMADD231PS Z8, Z9, a1

// HSUM8_LO is hsum_float_8 of the low 8 floats of zmm a (Hsum8) into the
// low float of X8. Clobbers X9.
#define HSUM8(ya, xa) \
	VEXTRACTF32X4 $1, ya, X9; \
	VADDPS xa, X9, X8; \
	VMOVHLPS X8, X8, X9; \
	VADDPS X9, X8, X8; \
	VMOVSHDUP X8, X9; \
	VADDSS X9, X8, X8

// STORE2 stores the hsums of both halves of zmm a (outputs lo, hi).
#define STORE2(a, ya, xa, lo, hi) \
	HSUM8(ya, xa); \
	VMOVSS X8, lo(DX); \
	VEXTRACTF64X4 $1, a, Y11; \
	HSUM8(Y11, X11); \
	VMOVSS X8, hi(DX)

#define TILE_PROLOGUE \
	MOVQ w+8(FP), SI; \
	MOVQ wstride+16(FP), BX; \
	MOVQ xu+24(FP), DI; \
	MOVQ xstride+32(FP), R8; \
	MOVQ xd+40(FP), R9; \
	MOVQ dstride+48(FP), R13; \
	SHLQ $2, R13; \
	MOVQ blocks+56(FP), CX; \
	LEAQ (SI)(BX*1), R10; \
	LEAQ (SI)(BX*2), R11; \
	LEAQ (R11)(BX*1), R12; \
	LEAQ (DI)(R8*2), R14; \
	ADDQ R8, R14; \
	LEAQ (R9)(R13*2), R15; \
	ADDQ R13, R15; \
	MOVL $0x80808080, AX; \
	VPBROADCASTD AX, Z31; \
	VPXORD Z30, Z30, Z30; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

#define TILE_EPILOGUE \
	MOVQ out+0(FP), DX; \
	STORE2(Z16, Y16, X16, 0, 16); \
	STORE2(Z17, Y17, X17, 32, 48); \
	STORE2(Z18, Y18, X18, 4, 20); \
	STORE2(Z19, Y19, X19, 36, 52); \
	STORE2(Z20, Y20, X20, 8, 24); \
	STORE2(Z21, Y21, X21, 40, 56); \
	STORE2(Z22, Y22, X22, 12, 28); \
	STORE2(Z23, Y23, X23, 44, 60); \
	VZEROUPPER; \
	RET

// func q8TileVNNI(out *[16]float32, w *byte, wstride int, xu *byte, xstride int, xd *float32, dstride, blocks int)
// out[4t+r] = DotQ8_0 of Q8_0 weight row r (at w + r·wstride) with token
// t (x+128 bytes at xu + t·xstride, scales at xd + t·dstride floats), for
// r, t < 4.
TEXT ·q8TileVNNI(SB), NOSPLIT, $0-64
	TILE_PROLOGUE
q8tile:
	TILE_X
	VBROADCASTI64X4 2(SI), Z28
	TILE_ROW(SI, Z16, Z17)
	VBROADCASTI64X4 2(R10), Z28
	TILE_ROW(R10, Z18, Z19)
	VBROADCASTI64X4 2(R11), Z28
	TILE_ROW(R11, Z20, Z21)
	VBROADCASTI64X4 2(R12), Z28
	TILE_ROW(R12, Z22, Z23)
	ADDQ $34, SI
	ADDQ $34, R10
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $32, DI
	ADDQ $32, R14
	ADDQ $4, R9
	ADDQ $4, R15
	DECQ CX
	JNZ q8tile
	TILE_EPILOGUE

// func q5TileVNNI(out *[16]float32, w *byte, wstride int, xu *byte, xstride int, xd *float32, dstride, blocks int)
// q8TileVNNI for Q5_0 weight rows (22-byte blocks, decoded as DotQ5_0).
TEXT ·q5TileVNNI(SB), NOSPLIT, $0-64
	TILE_PROLOGUE
	Q5_CONSTS5
q5tile:
	TILE_X
	Q5_DECODE(SI)
	VINSERTI64X4 $1, Y0, Z0, Z28
	TILE_ROW(SI, Z16, Z17)
	Q5_DECODE(R10)
	VINSERTI64X4 $1, Y0, Z0, Z28
	TILE_ROW(R10, Z18, Z19)
	Q5_DECODE(R11)
	VINSERTI64X4 $1, Y0, Z0, Z28
	TILE_ROW(R11, Z20, Z21)
	Q5_DECODE(R12)
	VINSERTI64X4 $1, Y0, Z0, Z28
	TILE_ROW(R12, Z22, Z23)
	ADDQ $22, SI
	ADDQ $22, R10
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $32, DI
	ADDQ $32, R14
	ADDQ $4, R9
	ADDQ $4, R15
	DECQ CX
	JNZ q5tile
	TILE_EPILOGUE

// PAIR_ROW fuses the blocks of two weight rows (their int8 weights in the
// halves of Z28, their f16 scales at w0 and w1) with one token (x' in both
// halves of Z24, d_x broadcast in Z26) into acc = [row 0 | row 1].
// Clobbers Z8…Z10, Z29.
#define PAIR_ROW(w0, w1, acc) \
	VPXORD Z29, Z29, Z29; \
	VPDPBUSD Z28, Z31, Z29; \
	VPSUBD Z29, Z30, Z29; \
	VPBROADCASTW (w0), X10; \
	VPBROADCASTW (w1), X9; \
	VINSERTI128 $1, X9, Y10, Y10; \
	VCVTPH2PS Y10, Z10; \
	VPDPBUSD Z28, Z24, Z29; \
	VCVTDQ2PS Z29, Z29; \
	VMULPS Z26, Z10, Z9; \
	VFMADD231PS Z29, Z9, acc

// func q8RowsVNNI(out *float32, w *byte, wstride int, xu *byte, xd *float32, blocks, rows, pf int)
// out[r] = DotQ8_0 of Q8_0 weight row r (at w + r·wstride) with one token
// (x+128 bytes at xu, scales at xd), for r < rows (a multiple of 4),
// prefetching pf bytes ahead of each row's current block.
TEXT ·q8RowsVNNI(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+48(FP), R13
	MOVQ pf+56(FP), R15
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VPXORD Z30, Z30, Z30
q8rows4:
	MOVQ xu+24(FP), DI
	MOVQ xd+32(FP), R9
	MOVQ blocks+40(FP), CX
	LEAQ (SI)(BX*1), R10
	LEAQ (SI)(BX*2), R11
	LEAQ (R11)(BX*1), R12
	MOVQ SI, R14
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
q8rowsblk:
	PREFETCHT0 (R14)(R15*1)      // pf bytes ahead (the rows of a later group)
	PREFETCHT0 (R10)(R15*1)
	PREFETCHT0 (R11)(R15*1)
	PREFETCHT0 (R12)(R15*1)
	VBROADCASTI64X4 (DI), Z24
	VBROADCASTSS (R9), Z26
	VMOVDQU64 2(R14), Y28
	VINSERTI64X4 $1, 2(R10), Z28, Z28
	PAIR_ROW(R14, R10, Z16)
	VMOVDQU64 2(R11), Y28
	VINSERTI64X4 $1, 2(R12), Z28, Z28
	PAIR_ROW(R11, R12, Z17)
	ADDQ $34, R14
	ADDQ $34, R10
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $32, DI
	ADDQ $4, R9
	DECQ CX
	JNZ q8rowsblk
	STORE2(Z16, Y16, X16, 0, 4)
	STORE2(Z17, Y17, X17, 8, 12)
	ADDQ $16, DX
	LEAQ (SI)(BX*4), SI
	SUBQ $4, R13
	JNZ q8rows4
	VZEROUPPER
	RET

// Q5_DECODE2 decodes the Q5_0 blocks at wa and wb into their unsigned
// 5-bit quants q (0…31, the weight being q−16), [block wa | block wb] in
// Z28: the nibbles (elements 0–15 low, 16–31 high, as ggml's
// bytes_from_nibbles_32) with 16 added where the element's qh bit is set.
// Constants in Z1…Z5: 0x0F bytes, the qh shuffle, each byte's bit, 0x10
// bytes, the nibble shifts. Clobbers Z6, Z7, K1.
#define Q5_DECODE2(wa, wb) \
	VBROADCASTI32X4 6(wa), Z28; \
	VBROADCASTI32X4 6(wb), Z7; \
	VINSERTI64X4 $1, Y7, Z28, Z28; \
	VPSRLVW Z5, Z28, Z28; \
	VPANDD Z1, Z28, Z28; \
	VPBROADCASTD 2(wa), Y6; \
	VPBROADCASTD 2(wb), Y7; \
	VINSERTI64X4 $1, Y7, Z6, Z6; \
	VPSHUFB Z2, Z6, Z6; \
	VPTESTMB Z3, Z6, K1; \
	VPADDB Z4, Z28, K1, Z28

// PAIR_ROW5 is PAIR_ROW for the unsigned quants q of Q5_DECODE2 and the
// signed activations x (both halves of Z24): each lane's exact sum
// Σ(q−16)·x = Σq·x − 16·Σx starts from Z25 = −16·Σx (per lane of 4).
#define PAIR_ROW5(w0, w1, acc) \
	VMOVDQA64 Z25, Z29; \
	VPDPBUSD Z24, Z28, Z29; \
	VPBROADCASTW (w0), X10; \
	VPBROADCASTW (w1), X9; \
	VINSERTI128 $1, X9, Y10, Y10; \
	VCVTPH2PS Y10, Z10; \
	VCVTDQ2PS Z29, Z29; \
	VMULPS Z26, Z10, Z9; \
	VFMADD231PS Z29, Z9, acc

DATA q5shifts<>+0(SB)/8, $0x0000000000000000
DATA q5shifts<>+8(SB)/8, $0x0000000000000000
DATA q5shifts<>+16(SB)/8, $0x0004000400040004
DATA q5shifts<>+24(SB)/8, $0x0004000400040004
DATA q5shifts<>+32(SB)/8, $0x0000000000000000
DATA q5shifts<>+40(SB)/8, $0x0000000000000000
DATA q5shifts<>+48(SB)/8, $0x0004000400040004
DATA q5shifts<>+56(SB)/8, $0x0004000400040004
GLOBL q5shifts<>(SB), RODATA|NOPTR, $64

DATA q5bit<>+0(SB)/8, $0x8040201008040201
GLOBL q5bit<>(SB), RODATA|NOPTR, $8

// func q5RowsVNNI(out *float32, w *byte, wstride int, xq *int8, xd *float32, blocks, rows, pf int)
// q8RowsVNNI for Q5_0 weight rows, on the signed activations xq (not
// x+128: the −16 offset of Q5_0 is taken from the activations' lane sums,
// computed once per block for all rows).
TEXT ·q5RowsVNNI(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ rows+48(FP), R13
	MOVQ pf+56(FP), R15
	MOVL $0x01010101, AX
	VPBROADCASTD AX, Z31
	VPXORD Z30, Z30, Z30
	MOVL $0x0F0F0F0F, AX
	VPBROADCASTD AX, Z1
	VBROADCASTI64X4 q5shufv<>(SB), Z2
	VPBROADCASTQ q5bit<>(SB), Z3
	MOVL $0x10101010, AX
	VPBROADCASTD AX, Z4
	VMOVDQU64 q5shifts<>(SB), Z5
q5rows4:
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R9
	MOVQ blocks+40(FP), CX
	LEAQ (SI)(BX*1), R10
	LEAQ (SI)(BX*2), R11
	LEAQ (R11)(BX*1), R12
	MOVQ SI, R14
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
q5rowsblk:
	PREFETCHT0 (R14)(R15*1)
	PREFETCHT0 (R10)(R15*1)
	PREFETCHT0 (R11)(R15*1)
	PREFETCHT0 (R12)(R15*1)
	VBROADCASTI64X4 (DI), Z24
	VBROADCASTSS (R9), Z26
	VPXORD Z25, Z25, Z25
	VPDPBUSD Z24, Z31, Z25
	VPSLLD $4, Z25, Z25
	VPSUBD Z25, Z30, Z25
	Q5_DECODE2(R14, R10)
	PAIR_ROW5(R14, R10, Z16)
	Q5_DECODE2(R11, R12)
	PAIR_ROW5(R11, R12, Z17)
	ADDQ $22, R14
	ADDQ $22, R10
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $32, DI
	ADDQ $4, R9
	DECQ CX
	JNZ q5rowsblk
	STORE2(Z16, Y16, X16, 0, 4)
	STORE2(Z17, Y17, X17, 8, 12)
	ADDQ $16, DX
	LEAQ (SI)(BX*4), SI
	SUBQ $4, R13
	JNZ q5rows4
	VZEROUPPER
	RET
