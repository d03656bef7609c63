#include "textflag.h"

// func fmaAcc16AVX(acc *[16]float32, x, y *float32, steps int)
// acc[l] += x[16s+l]·y[16s+l] (fused) for s < steps.
TEXT ·fmaAcc16AVX(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ steps+24(FP), CX
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
loop16:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VFMADD231PS (DI), Y2, Y0
	VFMADD231PS 32(DI), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ loop16
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	VZEROUPPER
	RET

// func fmaAcc64AVX(acc *[64]float32, x, y *float32, steps int)
// acc[l] += x[64s+l]·y[64s+l] (fused) for s < steps.
TEXT ·fmaAcc64AVX(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ steps+24(FP), CX
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VMOVUPS 128(AX), Y4
	VMOVUPS 160(AX), Y5
	VMOVUPS 192(AX), Y6
	VMOVUPS 224(AX), Y7
loop64:
	VMOVUPS (SI), Y8
	VFMADD231PS (DI), Y8, Y0
	VMOVUPS 32(SI), Y9
	VFMADD231PS 32(DI), Y9, Y1
	VMOVUPS 64(SI), Y10
	VFMADD231PS 64(DI), Y10, Y2
	VMOVUPS 96(SI), Y11
	VFMADD231PS 96(DI), Y11, Y3
	VMOVUPS 128(SI), Y12
	VFMADD231PS 128(DI), Y12, Y4
	VMOVUPS 160(SI), Y13
	VFMADD231PS 160(DI), Y13, Y5
	VMOVUPS 192(SI), Y14
	VFMADD231PS 192(DI), Y14, Y6
	VMOVUPS 224(SI), Y15
	VFMADD231PS 224(DI), Y15, Y7
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ CX
	JNZ loop64
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	VMOVUPS Y2, 64(AX)
	VMOVUPS Y3, 96(AX)
	VMOVUPS Y4, 128(AX)
	VMOVUPS Y5, 160(AX)
	VMOVUPS Y6, 192(AX)
	VMOVUPS Y7, 224(AX)
	VZEROUPPER
	RET

// func fmaScaleAVX(acc, v *float32, p float32, n int)
// acc[i] += v[i]·p (fused) for i < n.
TEXT ·fmaScaleAVX(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ v+8(FP), SI
	VBROADCASTSS p+16(FP), Y1
	MOVQ n+24(FP), CX
scale8:
	CMPQ CX, $8
	JLT scale1
	VMOVUPS (AX), Y0
	VFMADD231PS (SI), Y1, Y0
	VMOVUPS Y0, (AX)
	ADDQ $32, AX
	ADDQ $32, SI
	SUBQ $8, CX
	JMP scale8
scale1:
	TESTQ CX, CX
	JZ scaledone
	VMOVSS (AX), X0
	VFMADD231SS (SI), X1, X0
	VMOVSS X0, (AX)
	ADDQ $4, AX
	ADDQ $4, SI
	DECQ CX
	JMP scale1
scaledone:
	VZEROUPPER
	RET

// One q8_0 block of the weight row at register w against the x block
// widened in Y3 (elements 0–15) and Y4 (16–31), with d_x broadcast in Y10:
// d = f16(w[0:2])·d_x, the 32 int8 products summed in groups of 4 into 8
// int32 lanes (lane l = elements 4l…4l+3), converted to float and
// accumulated as acc += d·lanes (fused). Clobbers R8, Y1, Y2, Y5.
#define Q8_ROW(w, acc) \
	MOVWLZX (w), R8; \
	VMOVD R8, X5; \
	VCVTPH2PS X5, X5; \
	VBROADCASTSS X5, Y5; \
	VMULPS Y10, Y5, Y5; \
	VPMOVSXBW 2(w), Y1; \
	VPMOVSXBW 18(w), Y2; \
	VPMADDWD Y3, Y1, Y1; \
	VPMADDWD Y4, Y2, Y2; \
	VPHADDD Y2, Y1, Y1; \
	VPERMQ $0xD8, Y1, Y1; \
	VCVTDQ2PS Y1, Y1; \
	VFMADD231PS Y1, Y5, acc

// The x block at DI widened into Y3, Y4 and its scale at DX broadcast
// into Y10, for Q8_ROW.
#define Q8_X \
	VPMOVSXBW (DI), Y3; \
	VPMOVSXBW 16(DI), Y4; \
	VBROADCASTSS (DX), Y10

// func q8BlocksAVX(acc *[8]float32, w *byte, x *int8, xd *float32, blocks int)
// Q8_ROW over the blocks of one weight row (34-byte blocks at w) and x
// (32 int8 at x, scales at xd), accumulating into acc.
TEXT ·q8BlocksAVX(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), AX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ xd+24(FP), DX
	MOVQ blocks+32(FP), CX
	VMOVUPS (AX), Y0
q8loop:
	Q8_X
	Q8_ROW(SI, Y0)
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q8loop
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// func q8Blocks4AVX(acc *[4][8]float32, w *byte, wstride int, x *int8, xd *float32, blocks int)
// q8BlocksAVX for four weight rows (at w + r·wstride) against one x: the
// x block is widened once, the four accumulator chains run side by side.
TEXT ·q8Blocks4AVX(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), AX
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ xd+32(FP), DX
	MOVQ blocks+40(FP), CX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VMOVUPS 64(AX), Y14
	VMOVUPS 96(AX), Y15
	LEAQ (SI)(BX*1), R10         // row 1
	LEAQ (SI)(BX*2), R9          // row 2
	LEAQ (R9)(BX*1), R11         // row 3
q4loop:
	Q8_X
	Q8_ROW(SI, Y12)
	Q8_ROW(R10, Y13)
	Q8_ROW(R9, Y14)
	Q8_ROW(R11, Y15)
	ADDQ $34, SI
	ADDQ $34, R10
	ADDQ $34, R9
	ADDQ $34, R11
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q4loop
	VMOVUPS Y12, (AX)
	VMOVUPS Y13, 32(AX)
	VMOVUPS Y14, 64(AX)
	VMOVUPS Y15, 96(AX)
	VZEROUPPER
	RET

// Horizontal sum of the 8 int32 lanes of Y1 into out (R8 scratch, X2 scratch).
#define HSUM_I32(out) \
	VEXTRACTI128 $1, Y1, X2; \
	VPADDD X2, X1, X1; \
	VPSHUFD $0x4E, X1, X2; \
	VPADDD X2, X1, X1; \
	VPSHUFD $0xB1, X1, X2; \
	VPADDD X2, X1, X1; \
	VMOVD X1, R8; \
	MOVL R8, out

// func q4BlockSumsAVX(w *byte, x *int8, out *int32, blocks int)
// Q4_0 row w (18-byte blocks: f16 d, 16 bytes of nibbles, low = elements
// 0–15, high = 16–31): out[b] = Σ (q−8)·x over block b, exactly.
TEXT ·q4BlockSumsAVX(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ blocks+24(FP), CX
	MOVL $0x0F0F0F0F, R9
	VMOVD R9, X8
	VPBROADCASTD X8, X8          // 0x0F bytes
	MOVL $0x08080808, R9
	VMOVD R9, X9
	VPBROADCASTD X9, X9          // 8s
q4sloop:
	VMOVDQU 2(SI), X3
	VPAND X8, X3, X4             // low nibbles: elements 0–15
	VPSRLW $4, X3, X5
	VPAND X8, X5, X5             // high nibbles: elements 16–31
	VPSUBB X9, X4, X4
	VPSUBB X9, X5, X5
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMOVSXBW (DI), Y6
	VPMOVSXBW 16(DI), Y7
	VPMADDWD Y6, Y4, Y4
	VPMADDWD Y7, Y5, Y5
	VPADDD Y5, Y4, Y1
	HSUM_I32((DX))
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q4sloop
	VZEROUPPER
	RET

// Σ q·x over one Q4_K sub-block: the 32 nibbles in Yq (Xq its low half)
// times the 32 int8 at xoff(DI), exactly, stored at out.
#define Q4K_SUB(Xq, Yq, xoff, out) \
	VPMOVZXBW Xq, Y6; \
	VEXTRACTI128 $1, Yq, X7; \
	VPMOVZXBW X7, Y7; \
	VPMOVSXBW xoff(DI), Y10; \
	VPMOVSXBW xoff+16(DI), Y11; \
	VPMADDWD Y10, Y6, Y6; \
	VPMADDWD Y11, Y7, Y7; \
	VPADDD Y7, Y6, Y1; \
	HSUM_I32(out)

// func q4KSubSumsAVX(w *byte, x *int8, out *int32, superblocks int)
// Q4_K row w (144-byte superblocks: d, dmin, scales[12], qs[128]): out[8s+j]
// = Σ q·x over sub-block j (32 elements) of superblock s, q the unsigned
// nibble: chunk c (64 elements) has its low nibbles in qs[32c:32c+32]
// (sub-block 2c) and its high nibbles there too (sub-block 2c+1).
TEXT ·q4KSubSumsAVX(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ superblocks+24(FP), CX
	MOVL $0x0F0F0F0F, R9
	VMOVD R9, X8
	VPBROADCASTD X8, Y8          // 0x0F bytes
q4ksb:
	LEAQ 16(SI), R10             // qs
	MOVQ $4, R11
q4kchunk:
	VMOVDQU (R10), Y3
	VPAND Y8, Y3, Y4             // low nibbles
	VPSRLW $4, Y3, Y5
	VPAND Y8, Y5, Y5             // high nibbles
	Q4K_SUB(X4, Y4, 0, (DX))     // sub-block 2c: low nibbles × x[0:32]
	Q4K_SUB(X5, Y5, 32, 4(DX))   // sub-block 2c+1: high nibbles × x[32:64]
	ADDQ $32, R10
	ADDQ $64, DI
	ADDQ $8, DX
	DECQ R11
	JNZ q4kchunk
	ADDQ $144, SI
	DECQ CX
	JNZ q4ksb
	VZEROUPPER
	RET

// One 32-element chunk of a Q6_K superblock: Yq holds the 32 unsigned
// 6-bit quants, x the 32 int8 activations at off(DI); scales sc[s0] and
// sc[s0+1] (int8 at R10) weight elements 0–15 and 16–31. Adds the 8 int32
// lanes sc·Σ_{i<4} q·x (lane l = elements 4l…4l+3) to Y0.
#define Q6_CHUNK(Yq, off, s0) \
	VMOVDQU off(DI), Y9; \
	VPMADDUBSW Y9, Yq, Y9; \
	MOVBQSX s0(R10), R12; \
	MOVBQSX s0+1(R10), R13; \
	VMOVD R12, X10; \
	VPBROADCASTW X10, X10; \
	VMOVD R13, X11; \
	VPBROADCASTW X11, X11; \
	VINSERTI128 $1, X11, Y10, Y10; \
	VPMADDWD Y10, Y9, Y9; \
	VPADDD Y9, Y0, Y0

// func q6LanesAVX(w *byte, x *int8, out *int32, superblocks int)
// Q6_K row w (210-byte superblocks: ql[128], qh[64], scales[16], d): the 8
// int32 lanes of ggml's AVX2 q6_K dot before its −32 correction,
// out[8s+l] = Σ sc·q·x over the elements whose index mod 32 is in 4l…4l+3,
// q the unsigned 6-bit quant.
TEXT ·q6LanesAVX(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ superblocks+24(FP), CX
	MOVL $0x0F0F0F0F, R9
	VMOVD R9, X14
	VPBROADCASTD X14, Y14        // 0x0F bytes
	MOVL $0x30303030, R9
	VMOVD R9, X15
	VPBROADCASTD X15, Y15        // 0x30 bytes
q6sb:
	VPXOR Y0, Y0, Y0
	LEAQ 192(SI), R10            // scales of half h: sc[8h:8h+8]
	MOVQ SI, R8                  // ql of half h: ql[64h:64h+64]
	LEAQ 128(SI), R9             // qh of half h: qh[32h:32h+32]
	MOVQ $2, R11
q6half:                          // x at DI: x[128h:128h+128]
	VMOVDQU (R8), Y1            // ql0
	VMOVDQU 32(R8), Y2          // ql1
	VMOVDQU (R9), Y3            // qh
	VPSLLW $4, Y3, Y4
	VPAND Y15, Y4, Y4            // (qh & 3) << 4
	VPAND Y14, Y1, Y5
	VPOR Y4, Y5, Y5              // k = 0
	Q6_CHUNK(Y5, 0, 0)
	VPSLLW $2, Y3, Y4
	VPAND Y15, Y4, Y4            // ((qh >> 2) & 3) << 4
	VPAND Y14, Y2, Y5
	VPOR Y4, Y5, Y5              // k = 1
	Q6_CHUNK(Y5, 32, 2)
	VPAND Y15, Y3, Y4            // ((qh >> 4) & 3) << 4
	VPSRLW $4, Y1, Y5
	VPAND Y14, Y5, Y5
	VPOR Y4, Y5, Y5              // k = 2
	Q6_CHUNK(Y5, 64, 4)
	VPSRLW $2, Y3, Y4
	VPAND Y15, Y4, Y4            // ((qh >> 6) & 3) << 4
	VPSRLW $4, Y2, Y5
	VPAND Y14, Y5, Y5
	VPOR Y4, Y5, Y5              // k = 3
	Q6_CHUNK(Y5, 96, 6)
	ADDQ $64, R8
	ADDQ $32, R9
	ADDQ $128, DI
	ADDQ $8, R10
	DECQ R11
	JNZ q6half
	VMOVDQU Y0, (DX)
	ADDQ $210, SI
	ADDQ $32, DX
	DECQ CX
	JNZ q6sb
	VZEROUPPER
	RET

// func fmaChainAVX(acc float32, a, b *float32, n int) float32
// acc = fma(a[i], b[i], acc) for i < n in order (vfmadd231ss: one
// rounding per step, as FMA32).
TEXT ·fmaChainAVX(SB), NOSPLIT, $0-36
	VMOVSS acc+0(FP), X0
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JZ chaindone
chainloop:
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ chainloop
chaindone:
	VMOVSS X0, ret+32(FP)
	RET

// func fmaLanes8AVX(acc *[8]float32, v *float32, d *float32, n int)
// acc[l] = fma(d[i], v[8i+l], acc[l]) for i < n in order, l < 8.
TEXT ·fmaLanes8AVX(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ v+8(FP), SI
	MOVQ d+16(FP), DI
	MOVQ n+24(FP), CX
	VMOVUPS (AX), Y0
	TESTQ CX, CX
	JZ lanesdone
lanesloop:
	VBROADCASTSS (DI), Y1
	VFMADD231PS (SI), Y1, Y0
	ADDQ $32, SI
	ADDQ $4, DI
	DECQ CX
	JNZ lanesloop
lanesdone:
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET
