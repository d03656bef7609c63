#include "textflag.h"

// func quantizeQ8_0Avx(x *float32, qs *int8, d *float32, blocks int)
// QuantizeQ8_0 for finite x: per block of 32, amax = max|x| (vmaxps),
// d = f16(amax/127) (vcvtps2ph, nearest even), id = 127/amax (0 when
// amax is 0), q = nearest-even(x·id) (vcvtps2dq under the default
// rounding) narrowed to int8.
TEXT ·quantizeQ8_0Avx(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ blocks+24(FP), CX
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVL $0x42fe0000, AX // 127.0
	VMOVD AX, X30
	VXORPS X29, X29, X29
q80loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VANDPS Z31, Z0, Z2
	VANDPS Z31, Z1, Z3
	VMAXPS Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0x4E, X2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0xB1, X2, X3
	VMAXPS X3, X2, X2
	// d = f16(amax/127)
	VDIVSS X30, X2, X4
	VCVTPS2PH $0, X4, X5
	VCVTPH2PS X5, X4
	VMOVSS X4, (DX)
	// id = 127/amax, or 0
	VXORPS X6, X6, X6
	VUCOMISS X29, X2
	JEQ q80zero
	VDIVSS X2, X30, X6
q80zero:
	VBROADCASTSS X6, Z6
	VMULPS Z6, Z0, Z0
	VMULPS Z6, Z1, Z1
	VCVTPS2DQ Z0, Z0
	VCVTPS2DQ Z1, Z1
	VPMOVDB Z0, X0
	VPMOVDB Z1, X1
	VMOVDQU X0, (DI)
	VMOVDQU X1, 16(DI)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JNZ q80loop
	VZEROUPPER
	RET
