# K-quant single-row dots (Q4_K, Q6_K) and the f16 input rounding; run
# by gen.py after the block dtypes.
def red(za, zb):
    y = lambda z: "Y" + z[1:]
    x = lambda z: "X" + z[1:]
    return [f"VADDPS {zb}, {za}, {za}", f"VEXTRACTF64X4 $1, {za}, {y(zb)}", f"VADDPS {y(zb)}, {y(za)}, {y(za)}",
            f"VEXTRACTF32X4 $1, {y(za)}, {x(zb)}", f"VADDPS {x(zb)}, {x(za)}, {x(za)}",
            f"VMOVHLPS {x(za)}, {x(za)}, {x(zb)}", f"VADDPS {x(zb)}, {x(za)}, {x(za)}",
            f"VMOVSHDUP {x(za)}, {x(zb)}", f"VADDSS {x(zb)}, {x(za)}, {x(za)}"]

def q4k_scales():
    # Q4_K's 12 scale bytes at 4(R8) unpacked as gguf.Dequantize's utmp:
    # the six-bit scales into AX (bytes 0-7) and the mins into BX
    # (bytes 0-7), for VMOVQ/VPMOVZXBD; uses DX, R9, R10
    return ["MOVL 4(R8), AX", "MOVL 8(R8), BX", "MOVL 12(R8), DX",
            # u3 = ((u2>>4)&0x0f0f0f0f) | (((u1>>6)&0x03030303)<<4)
            "MOVL DX, R9", "SHRL $4, R9", "ANDL $0x0f0f0f0f, R9",
            "MOVL BX, R10", "SHRL $6, R10", "ANDL $0x03030303, R10", "SHLL $4, R10", "ORL R10, R9",
            # u1' = (u2 & 0x0f0f0f0f) | (((u0>>6)&0x03030303)<<4)
            "MOVL AX, R10", "SHRL $6, R10", "ANDL $0x03030303, R10", "SHLL $4, R10",
            "ANDL $0x0f0f0f0f, DX", "ORL R10, DX",
            # u2' = u1 & 0x3f3f3f3f ; u0' = u0 & 0x3f3f3f3f
            "ANDL $0x3f3f3f3f, BX", "ANDL $0x3f3f3f3f, AX",
            # scales u0'|u1'<<32 and mins u2'|u3<<32
            "SHLQ $32, DX", "ORQ DX, AX", "SHLQ $32, R9", "ORQ R9, BX"]

o = []
# ---------------- Q4_K ----------------
o += ["// func dotQ4_Kx1(w *byte, x *float32, blocks int) float32",
      "// One Q4_K row (blocks of 256): the 6-bit scales and mins unpacked in",
      "// general registers, d·sc and dmin·m as float32 (8 each) on the stack,",
      "// then w = d·sc·q − dmin·m per element, as gguf.Dequantize.",
      "TEXT ·dotQ4_Kx1(SB), NOSPLIT, $96-28",
      "MOVQ w+0(FP), R8", "MOVQ x+8(FP), DI", "MOVQ blocks+16(FP), CX",
      "MOVL $15, AX", "VPBROADCASTD AX, Z30",
      "VXORPS Z0, Z0, Z0", "VXORPS Z1, Z1, Z1",
      "q4kblock:",
      "PREFETCHT0 8192(R8)", "PREFETCHT0 8256(R8)", "PREFETCHT0 8320(R8)",
      "VPBROADCASTW (R8), X28", "VCVTPH2PS X28, Y28",
      "VPBROADCASTW 2(R8), X27", "VCVTPH2PS X27, Y27",
      ]
o += q4k_scales()
o += [
      "VMOVQ AX, X26", "VPMOVZXBD X26, Y26", "VCVTDQ2PS Y26, Y26", "VMULPS Y28, Y26, Y26",
      "VMOVQ BX, X25", "VPMOVZXBD X25, Y25", "VCVTDQ2PS Y25, Y25", "VMULPS Y27, Y25, Y25",
      "VMOVUPS Y26, 16(SP)", "VMOVUPS Y25, 48(SP)"]
for cc in range(4):
    qo = 16 + 32 * cc
    o += [f"VPMOVZXBD {qo}(R8), Z20", f"VPMOVZXBD {qo+16}(R8), Z21",
          "VPSRLD $4, Z20, Z22", "VPSRLD $4, Z21, Z23",
          "VPANDD Z30, Z20, Z20", "VPANDD Z30, Z21, Z21"]
    for s, (za, zb) in enumerate([("Z20", "Z21"), ("Z22", "Z23")]):
        sb = 2 * cc + s
        xo = 4 * 32 * sb
        o += [f"VCVTDQ2PS {za}, {za}", f"VCVTDQ2PS {zb}, {zb}",
              f"VBROADCASTSS {16+4*sb}(SP), Z24", f"VBROADCASTSS {48+4*sb}(SP), Z25",
              f"VMULPS Z24, {za}, {za}", f"VMULPS Z24, {zb}, {zb}",
              f"VSUBPS Z25, {za}, {za}", f"VSUBPS Z25, {zb}, {zb}",
              f"VMULPS {xo}(DI), {za}, {za}", f"VMULPS {xo+64}(DI), {zb}, {zb}",
              f"VADDPS {za}, Z0, Z0", f"VADDPS {zb}, Z1, Z1"]
o += ["ADDQ $144, R8", "ADDQ $1024, DI", "DECQ CX", "JNZ q4kblock"]
o += red("Z0", "Z1") + ["VMOVSS X0, ret+24(FP)", "VZEROUPPER", "RET", ""]
# ---------------- Q6_K ----------------
o += ["// func dotQ6_Kx1(w *byte, x *float32, blocks int) float32",
      "// One Q6_K row (blocks of 256): d·scale as float32 (16) on the stack,",
      "// then w = (d·scale)·(q−32) per element, as gguf.Dequantize.",
      "TEXT ·dotQ6_Kx1(SB), NOSPLIT, $64-28",
      "MOVQ w+0(FP), R8", "MOVQ x+8(FP), DI", "MOVQ blocks+16(FP), CX",
      "MOVL $15, AX", "VPBROADCASTD AX, Z30",
      "MOVL $3, AX", "VPBROADCASTD AX, Z29",
      "MOVL $32, AX", "VPBROADCASTD AX, Z31",
      "VXORPS Z0, Z0, Z0", "VXORPS Z1, Z1, Z1",
      "q6kblock:",
      "PREFETCHT0 8192(R8)", "PREFETCHT0 8256(R8)", "PREFETCHT0 8320(R8)", "PREFETCHT0 8384(R8)",
      "VPBROADCASTW 208(R8), Y28", "VCVTPH2PS Y28, Z28",
      "VPMOVSXBD 192(R8), Z26", "VCVTDQ2PS Z26, Z26", "VMULPS Z28, Z26, Z26", "VMOVUPS Z26, 0(SP)"]
for n in range(2):
    ql, qh = 64 * n, 128 + 32 * n
    o += [f"VPMOVZXBD {ql}(R8), Z10", f"VPMOVZXBD {ql+16}(R8), Z11", f"VPMOVZXBD {ql+32}(R8), Z12", f"VPMOVZXBD {ql+48}(R8), Z13",
          f"VPMOVZXBD {qh}(R8), Z14", f"VPMOVZXBD {qh+16}(R8), Z15"]
    for g in range(4):
        for h in range(2):
            lo = {0: "Z10", 1: "Z12", 2: "Z10", 3: "Z12"}[g]
            if h == 1:
                lo = {"Z10": "Z11", "Z12": "Z13"}[lo]
            hr = "Z14" if h == 0 else "Z15"
            z = "Z20" if h == 0 else "Z21"
            t = "Z22" if h == 0 else "Z23"
            e = 128 * n + 32 * g + 16 * h
            sidx = 8 * n + 2 * g + h
            if g < 2:
                o += [f"VPANDD Z30, {lo}, {z}"]
            else:
                o += [f"VPSRLD $4, {lo}, {z}"]
            if g == 0:
                o += [f"VPANDD Z29, {hr}, {t}"]
            else:
                o += [f"VPSRLD ${2*g}, {hr}, {t}", f"VPANDD Z29, {t}, {t}"]
            o += [f"VPSLLD $4, {t}, {t}", f"VPORD {t}, {z}, {z}", f"VPSUBD Z31, {z}, {z}",
                  f"VCVTDQ2PS {z}, {z}", f"VMULPS.BCST {4*sidx}(SP), {z}, {z}" if False else f"VBROADCASTSS {4*sidx}(SP), Z24",
                  ]
            o += [f"VMULPS Z24, {z}, {z}", f"VMULPS {4*e}(DI), {z}, {z}", f"VADDPS {z}, {'Z0' if h == 0 else 'Z1'}, {'Z0' if h == 0 else 'Z1'}"]
o += ["ADDQ $210, R8", "ADDQ $1024, DI", "DECQ CX", "JNZ q6kblock"]
o += red("Z0", "Z1") + ["VMOVSS X0, ret+24(FP)", "VZEROUPPER", "RET", ""]
ROUND = """
// func roundF16x16(x *float32, n int)
// Rounds n·16 floats at x to f16 and back (round to nearest even, the
// F16C conversion llama.cpp's CPU backend uses for an F16 weight's input).
TEXT ·roundF16x16(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
roundf16loop:
	VMOVUPS (SI), Z0
	VCVTPS2PH $0, Z0, Y1
	VCVTPH2PS Y1, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	DECQ CX
	JNZ roundf16loop
	VZEROUPPER
	RET"""
print("\n".join(("\t" + l if not l.endswith(":") and not l.startswith("//") and not l.startswith("TEXT") and l else l) for l in o))
print(ROUND)
