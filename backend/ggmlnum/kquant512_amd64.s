#include "textflag.h"

// AVX-512 VNNI kernels of the k-quant decode dots (Q4_K and Q6_K weights,
// Q8_K activations), one weight row per call, every superblock in
// registers. Their integer sums are exact whatever the order in which
// they are added, so they are computed vertically (vpmaddubsw products of
// unsigned quants and signed activations, weighted by the sub-block
// scales with vpdpwssd); the float arithmetic is that of the Go
// definitions (DotQ4_Kx8 with gemm false, DotQ6_K), lane for lane and
// fused multiply-add for fused multiply-add.

// Word shuffles of a broadcast qword of eight Q4_K scale (or min) bytes:
// each 16-bit word takes byte idx zero-extended (0x80 zeroes the high
// byte). q4kscl: words 0–15 scale 0, words 16–31 scale 2 (the low nibbles
// of qs[0:64]); q4ksch: scales 1, 3 (their high nibbles); q4kscl2 and
// q4ksch2: scales 4, 6 and 5, 7 (qs[64:128]).
DATA q4kscl<>+0(SB)/8, $0x8000800080008000
DATA q4kscl<>+8(SB)/8, $0x8000800080008000
DATA q4kscl<>+16(SB)/8, $0x8000800080008000
DATA q4kscl<>+24(SB)/8, $0x8000800080008000
DATA q4kscl<>+32(SB)/8, $0x8002800280028002
DATA q4kscl<>+40(SB)/8, $0x8002800280028002
DATA q4kscl<>+48(SB)/8, $0x8002800280028002
DATA q4kscl<>+56(SB)/8, $0x8002800280028002
GLOBL q4kscl<>(SB), RODATA|NOPTR, $64

DATA q4ksch<>+0(SB)/8, $0x8001800180018001
DATA q4ksch<>+8(SB)/8, $0x8001800180018001
DATA q4ksch<>+16(SB)/8, $0x8001800180018001
DATA q4ksch<>+24(SB)/8, $0x8001800180018001
DATA q4ksch<>+32(SB)/8, $0x8003800380038003
DATA q4ksch<>+40(SB)/8, $0x8003800380038003
DATA q4ksch<>+48(SB)/8, $0x8003800380038003
DATA q4ksch<>+56(SB)/8, $0x8003800380038003
GLOBL q4ksch<>(SB), RODATA|NOPTR, $64

DATA q4kscl2<>+0(SB)/8, $0x8004800480048004
DATA q4kscl2<>+8(SB)/8, $0x8004800480048004
DATA q4kscl2<>+16(SB)/8, $0x8004800480048004
DATA q4kscl2<>+24(SB)/8, $0x8004800480048004
DATA q4kscl2<>+32(SB)/8, $0x8006800680068006
DATA q4kscl2<>+40(SB)/8, $0x8006800680068006
DATA q4kscl2<>+48(SB)/8, $0x8006800680068006
DATA q4kscl2<>+56(SB)/8, $0x8006800680068006
GLOBL q4kscl2<>(SB), RODATA|NOPTR, $64

DATA q4ksch2<>+0(SB)/8, $0x8005800580058005
DATA q4ksch2<>+8(SB)/8, $0x8005800580058005
DATA q4ksch2<>+16(SB)/8, $0x8005800580058005
DATA q4ksch2<>+24(SB)/8, $0x8005800580058005
DATA q4ksch2<>+32(SB)/8, $0x8007800780078007
DATA q4ksch2<>+40(SB)/8, $0x8007800780078007
DATA q4ksch2<>+48(SB)/8, $0x8007800780078007
DATA q4ksch2<>+56(SB)/8, $0x8007800780078007
GLOBL q4ksch2<>(SB), RODATA|NOPTR, $64

// q4kmin: words m0, m0, m1, m1, …, m7, m7 of a broadcast qword of mins.
DATA q4kmin<>+0(SB)/8, $0x8001800180008000
DATA q4kmin<>+8(SB)/8, $0x8003800380028002
DATA q4kmin<>+16(SB)/8, $0x8005800580048004
DATA q4kmin<>+24(SB)/8, $0x8007800780068006
GLOBL q4kmin<>(SB), RODATA|NOPTR, $32

// func q4KRowVNNI(w *byte, x *int8, xsum *int32, xd *float32, superblocks int) float32
// DotQ4_Kx8(row, x, xd, xsum, false): per superblock the exact sums
// s = Σ_j sc_j·Σ q·x and m = Σ_j m_j·Σ x (sub-blocks j of 32), then
// acc = fma(float(s), d·d_x, acc) and accm = fma(float(m), dmin·d_x, accm)
// in the two low lanes of X13; the result is acc − accm.
TEXT ·q4KRowVNNI(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ xsum+16(FP), R8
	MOVQ xd+24(FP), R9
	MOVQ superblocks+32(FP), CX
	MOVL $0x0F0F0F0F, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Z31
	VMOVDQU64 q4kscl<>(SB), Z30
	VMOVDQU64 q4ksch<>(SB), Z29
	VMOVDQU64 q4kscl2<>(SB), Z28
	VMOVDQU64 q4ksch2<>(SB), Z27
	VMOVDQU32 q4kmin<>(SB), Y26
	VXORPS X13, X13, X13
q4kloop:
	// The twelve scale bytes as ggml unpacks them (utmp): scales 0–7 in
	// AX, mins 0–7 in R10.
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), DX
	MOVL BX, R10
	ANDL $0x3f3f3f3f, R10
	MOVL DX, R11
	SHRL $4, R11
	ANDL $0x0f0f0f0f, R11
	SHRL $6, BX
	ANDL $0x03030303, BX
	SHLL $4, BX
	ORL BX, R11
	ANDL $0x0f0f0f0f, DX
	MOVL AX, R12
	SHRL $6, R12
	ANDL $0x03030303, R12
	SHLL $4, R12
	ORL R12, DX
	ANDL $0x3f3f3f3f, AX
	SHLQ $32, DX
	ORQ DX, AX
	SHLQ $32, R11
	ORQ R11, R10
	VMOVQ AX, X0
	VPBROADCASTQ X0, Z0
	VMOVQ R10, X1
	VPBROADCASTQ X1, Y1

	// The quants: low and high nibbles of qs[0:64] (Z4, Z6) and
	// qs[64:128] (Z5, Z7).
	VMOVDQU64 16(SI), Z4
	VMOVDQU64 80(SI), Z5
	VPSRLW $4, Z4, Z6
	VPSRLW $4, Z5, Z7
	VPANDD Z31, Z4, Z4
	VPANDD Z31, Z5, Z5
	VPANDD Z31, Z6, Z6
	VPANDD Z31, Z7, Z7
	// Their activations: chunk c of 64 is sub-block 2c (low nibbles of
	// qs[32c:32c+32]) then 2c+1 (high nibbles).
	VMOVDQU (DI), Y8
	VINSERTI64X4 $1, 64(DI), Z8, Z8
	VMOVDQU 32(DI), Y9
	VINSERTI64X4 $1, 96(DI), Z9, Z9
	VMOVDQU 128(DI), Y10
	VINSERTI64X4 $1, 192(DI), Z10, Z10
	VMOVDQU 160(DI), Y11
	VINSERTI64X4 $1, 224(DI), Z11, Z11
	VPMADDUBSW Z8, Z4, Z4
	VPMADDUBSW Z9, Z6, Z6
	VPMADDUBSW Z10, Z5, Z5
	VPMADDUBSW Z11, Z7, Z7
	// Weighted by the sub-block scales into 16 int32 lanes of Z14.
	VPSHUFB Z30, Z0, Z12
	VPMADDWD Z12, Z4, Z14
	VPSHUFB Z29, Z0, Z12
	VPDPWSSD Z12, Z6, Z14
	VPSHUFB Z28, Z0, Z12
	VPDPWSSD Z12, Z5, Z14
	VPSHUFB Z27, Z0, Z12
	VPDPWSSD Z12, Z7, Z14
	// The mins times the sub-blocks' activation sums: 8 lanes of Y2.
	VMOVDQU32 (R8), Z2
	VPMOVDW Z2, Y2
	VPSHUFB Y26, Y1, Y3
	VPMADDWD Y3, Y2, Y2
	// Both totals: s in lane 0 of X14, m in lane 1.
	VEXTRACTI64X4 $1, Z14, Y15
	VPADDD Y15, Y14, Y14
	VPHADDD Y2, Y14, Y14
	VPHADDD Y14, Y14, Y14
	VEXTRACTI128 $1, Y14, X15
	VPADDD X15, X14, X14
	VCVTDQ2PS X14, X14
	// [d·d_x, dmin·d_x] and the two fused chains.
	VCVTPH2PS (SI), X15
	VBROADCASTSS (R9), X12
	VMULPS X12, X15, X15
	VFMADD231PS X15, X14, X13
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $64, R8
	ADDQ $4, R9
	DECQ CX
	JNZ q4kloop
	VMOVSHDUP X13, X14
	VSUBSS X14, X13, X13
	VMOVSS X13, ret+40(FP)
	VZEROUPPER
	RET

// Word permutations of the 16 sign-extended Q6_K scales: q6kperm0 gives
// words 0–7 scale 0, 8–15 scale 1, 16–23 scale 2, 24–31 scale 3 (the
// elements 0–63 of a half, 16 per scale); q6kperm1 scales 4–7, q6kperm2
// 8–11, q6kperm3 12–15.
DATA q6kperm0<>+0(SB)/8, $0x0000000000000000
DATA q6kperm0<>+8(SB)/8, $0x0000000000000000
DATA q6kperm0<>+16(SB)/8, $0x0001000100010001
DATA q6kperm0<>+24(SB)/8, $0x0001000100010001
DATA q6kperm0<>+32(SB)/8, $0x0002000200020002
DATA q6kperm0<>+40(SB)/8, $0x0002000200020002
DATA q6kperm0<>+48(SB)/8, $0x0003000300030003
DATA q6kperm0<>+56(SB)/8, $0x0003000300030003
GLOBL q6kperm0<>(SB), RODATA|NOPTR, $64

DATA q6kperm1<>+0(SB)/8, $0x0004000400040004
DATA q6kperm1<>+8(SB)/8, $0x0004000400040004
DATA q6kperm1<>+16(SB)/8, $0x0005000500050005
DATA q6kperm1<>+24(SB)/8, $0x0005000500050005
DATA q6kperm1<>+32(SB)/8, $0x0006000600060006
DATA q6kperm1<>+40(SB)/8, $0x0006000600060006
DATA q6kperm1<>+48(SB)/8, $0x0007000700070007
DATA q6kperm1<>+56(SB)/8, $0x0007000700070007
GLOBL q6kperm1<>(SB), RODATA|NOPTR, $64

DATA q6kperm2<>+0(SB)/8, $0x0008000800080008
DATA q6kperm2<>+8(SB)/8, $0x0008000800080008
DATA q6kperm2<>+16(SB)/8, $0x0009000900090009
DATA q6kperm2<>+24(SB)/8, $0x0009000900090009
DATA q6kperm2<>+32(SB)/8, $0x000a000a000a000a
DATA q6kperm2<>+40(SB)/8, $0x000a000a000a000a
DATA q6kperm2<>+48(SB)/8, $0x000b000b000b000b
DATA q6kperm2<>+56(SB)/8, $0x000b000b000b000b
GLOBL q6kperm2<>(SB), RODATA|NOPTR, $64

DATA q6kperm3<>+0(SB)/8, $0x000c000c000c000c
DATA q6kperm3<>+8(SB)/8, $0x000c000c000c000c
DATA q6kperm3<>+16(SB)/8, $0x000d000d000d000d
DATA q6kperm3<>+24(SB)/8, $0x000d000d000d000d
DATA q6kperm3<>+32(SB)/8, $0x000e000e000e000e
DATA q6kperm3<>+40(SB)/8, $0x000e000e000e000e
DATA q6kperm3<>+48(SB)/8, $0x000f000f000f000f
DATA q6kperm3<>+56(SB)/8, $0x000f000f000f000f
GLOBL q6kperm3<>(SB), RODATA|NOPTR, $64

// Per-word shifts of the qh bytes (broadcast to both halves of a zmm):
// the bits of k = 0 and 1 moved to bits 4–5 (left by 4, by 2), and of
// k = 2 and 3 (left by 0, right by 2).
DATA q6kshl<>+0(SB)/8, $0x0004000400040004
DATA q6kshl<>+8(SB)/8, $0x0004000400040004
DATA q6kshl<>+16(SB)/8, $0x0004000400040004
DATA q6kshl<>+24(SB)/8, $0x0004000400040004
DATA q6kshl<>+32(SB)/8, $0x0002000200020002
DATA q6kshl<>+40(SB)/8, $0x0002000200020002
DATA q6kshl<>+48(SB)/8, $0x0002000200020002
DATA q6kshl<>+56(SB)/8, $0x0002000200020002
GLOBL q6kshl<>(SB), RODATA|NOPTR, $64

DATA q6kshr<>+0(SB)/8, $0x0000000000000000
DATA q6kshr<>+8(SB)/8, $0x0000000000000000
DATA q6kshr<>+16(SB)/8, $0x0000000000000000
DATA q6kshr<>+24(SB)/8, $0x0000000000000000
DATA q6kshr<>+32(SB)/8, $0x0002000200020002
DATA q6kshr<>+40(SB)/8, $0x0002000200020002
DATA q6kshr<>+48(SB)/8, $0x0002000200020002
DATA q6kshr<>+56(SB)/8, $0x0002000200020002
GLOBL q6kshr<>(SB), RODATA|NOPTR, $64

// Q6K_HALF accumulates half h of a Q6_K superblock (elements 128h…128h+127:
// ql at SI+64h, qh at SI+128+32h, activations at DI+128h) into the 16
// int32 lanes of Z14: lane 8k'+l (k' = 0, 1) of the pair (k, k+1) is
// Σ sc·q·x over the elements 32k+4l…32k+4l+3 of the half. p01 and p23
// are the scale words of elements 0–63 and 64–127 (Z20…Z23).
#define Q6K_HALF(ql, qh, xo, p01, p23) \
	VMOVDQU64 ql(SI), Z4; \
	VBROADCASTI64X4 qh(SI), Z6; \
	VPSRLW $4, Z4, Z5; \
	VPANDD Z31, Z4, Z4; \
	VPANDD Z31, Z5, Z5; \
	VPSLLVW Z29, Z6, Z7; \
	VPSRLVW Z28, Z6, Z6; \
	VPANDD Z30, Z7, Z7; \
	VPANDD Z30, Z6, Z6; \
	VPORD Z7, Z4, Z4; \
	VPORD Z6, Z5, Z5; \
	VPMADDUBSW xo(DI), Z4, Z4; \
	VPMADDUBSW xo+64(DI), Z5, Z5; \
	VPDPWSSD p01, Z4, Z14; \
	VPDPWSSD p23, Z5, Z14

// func q6KRowVNNI(acc *[8]float32, w *byte, x *int8, xsum *int32, xd *float32, superblocks int)
// The lanes of DotQ6_K before Hsum8: per superblock the eight exact lane
// sums less 32·Σ sc·x, converted to float, acc_l = fma(d·d_x, v_l, acc_l).
TEXT ·q6KRowVNNI(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ xsum+24(FP), R8
	MOVQ xd+32(FP), R9
	MOVQ superblocks+40(FP), CX
	MOVL $0x0F0F0F0F, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Z31
	MOVL $0x30303030, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Z30
	VMOVDQU64 q6kshl<>(SB), Z29
	VMOVDQU64 q6kshr<>(SB), Z28
	VMOVDQU64 q6kperm0<>(SB), Z27
	VMOVDQU64 q6kperm1<>(SB), Z26
	VMOVDQU64 q6kperm2<>(SB), Z25
	VMOVDQU64 q6kperm3<>(SB), Z24
	VMOVUPS (DX), Y13
q6kloop:
	// Scale words, 16 per scale, for the four quarters of 64 elements.
	VPMOVSXBW 192(SI), Y16
	VPERMW Z16, Z27, Z20
	VPERMW Z16, Z26, Z21
	VPERMW Z16, Z25, Z22
	VPERMW Z16, Z24, Z23
	VPXORD Z14, Z14, Z14
	Q6K_HALF(0, 128, 0, Z20, Z21)
	Q6K_HALF(64, 160, 128, Z22, Z23)
	VEXTRACTI64X4 $1, Z14, Y15
	VPADDD Y15, Y14, Y14
	// Less 32·(bs[2l]·sc[2l] + bs[2l+1]·sc[2l+1]).
	VMOVDQU32 (R8), Z2
	VPMOVDW Z2, Y2
	VPMADDWD Y16, Y2, Y2
	VPSLLD $5, Y2, Y2
	VPSUBD Y2, Y14, Y14
	VCVTDQ2PS Y14, Y14
	// d·d_x, then acc_l = fma(d·d_x, v_l, acc_l).
	MOVWLZX 208(SI), AX
	VMOVD AX, X15
	VCVTPH2PS X15, X15
	VMULSS (R9), X15, X15
	VBROADCASTSS X15, Y15
	VFMADD231PS Y15, Y14, Y13
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $64, R8
	ADDQ $4, R9
	DECQ CX
	JNZ q6kloop
	VMOVUPS Y13, (DX)
	VZEROUPPER
	RET
