#include "textflag.h"

// ggml_v_expf and ggml_v_silu of ggml's AVX-512 build (Expf, Silu, SwiGLU
// in expf.go / ggmlnum.go are their one-lane definitions), 16 lanes at a
// time: the same fused multiply-adds, vscalefps and range masks, so the
// same bits.

// EXP_CONSTS broadcasts the constants into Z16…Z31.
#define EXP_CONSTS \
	MOVL $0x4b400000, AX; VPBROADCASTD AX, Z16; \
	MOVL $0x3fb8aa3b, AX; VPBROADCASTD AX, Z17; \
	MOVL $0x35bfbe8e, AX; VPBROADCASTD AX, Z18; \
	MOVL $0x3f317200, AX; VPBROADCASTD AX, Z19; \
	MOVL $0x3c072010, AX; VPBROADCASTD AX, Z20; \
	MOVL $0x3d2b9f17, AX; VPBROADCASTD AX, Z21; \
	MOVL $0x3e2aaf33, AX; VPBROADCASTD AX, Z22; \
	MOVL $0x3efffedb, AX; VPBROADCASTD AX, Z23; \
	MOVL $0x3f7ffff6, AX; VPBROADCASTD AX, Z24; \
	MOVL $0x3f800000, AX; VPBROADCASTD AX, Z25; \
	MOVL $0x43400000, AX; VPBROADCASTD AX, Z26; \
	MOVL $0x7f800000, AX; VPBROADCASTD AX, Z27; \
	MOVL $0x7fffffff, AX; VPBROADCASTD AX, Z28; \
	VPXORD Z29, Z29, Z29

// VEXPF computes Z10 = ggml_v_expf(Z1). Clobbers Z2…Z9, Z11, K1, K2.
#define VEXPF \
	VMOVAPS Z16, Z2; \
	VFMADD231PS Z17, Z1, Z2; \
	VSUBPS Z16, Z2, Z3; \
	VMOVAPS Z1, Z4; \
	VFNMADD231PS Z19, Z3, Z4; \
	VFNMADD231PS Z18, Z3, Z4; \
	VANDPS Z28, Z3, Z5; \
	VCMPPS $0x1e, Z26, Z5, K1; \
	VMULPS Z4, Z4, Z6; \
	VMOVAPS Z21, Z7; \
	VFMADD231PS Z20, Z4, Z7; \
	VMOVAPS Z23, Z8; \
	VFMADD231PS Z22, Z4, Z8; \
	VFMADD213PS Z8, Z6, Z7; \
	VMOVAPS Z25, Z9; \
	VFMADD231PS Z24, Z4, Z9; \
	VFMADD213PS Z9, Z6, Z7; \
	VSCALEFPS Z3, Z7, Z10; \
	VCMPPS $0x12, Z29, Z3, K2; \
	VMOVAPS Z27, Z11; \
	VMOVAPS Z29, K2, Z11; \
	VMOVAPS Z11, K1, Z10

// func expfAVX512(y, x *float32, n int)
// y[i] = Expf(x[i]) for i < n, n a multiple of 16.
TEXT ·expfAVX512(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ expdone
	EXP_CONSTS
exploop:
	VMOVUPS (SI), Z1
	VEXPF
	VMOVUPS Z10, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ exploop
expdone:
	VZEROUPPER
	RET

// func swigluAVX512(y, x, gate *float32, n int)
// y[i] = Silu(x[i])·g[i] for i < n, n a multiple of 16: x/(1+Expf(0−x)),
// times g.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gate+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ swdone
	EXP_CONSTS
swloop:
	VMOVUPS (SI), Z0
	VSUBPS Z0, Z29, Z1
	VEXPF
	VADDPS Z10, Z25, Z12
	VDIVPS Z12, Z0, Z13
	VMULPS (DX), Z13, Z13
	VMOVUPS Z13, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ swloop
swdone:
	VZEROUPPER
	RET
