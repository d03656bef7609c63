# AVX2 (+F16C) row dots of the dsl CPU twin, for CPUs without AVX-512;
# run by gen.py after the AVX-512 kernels. They compute the bits of the
# AVX-512 kernels and of dotLanes: the 32 lanes of a row live in four
# ymm accumulators (lanes 0-7, 8-15, 16-23, 24-31), every weight is
# decoded to gguf.Dequantize's float32, multiplied by x with one
# rounding and added into its lane in increasing k; the reduction is
# dotLanes' tree (l[i]+l[i+16], then halves). Sixteen ymm registers hold
# the accumulators of two rows at most, so the block dtypes have one-
# and two-row kernels (names ending y1, y2) and the k-quants one-row
# kernels.
b2 = {"F32": 128, "F16": 64, "Q8_0": 34, "Q4_0": 18, "Q5_0": 22}


def scale2(t, r):
    # the f16 block scale of the block at (r), broadcast into Y10
    if t in ("F32", "F16"):
        return []
    return [f"MOVWQZX ({r}), DX", "SHLQ $2, DX", "ADDQ ·f16Base(SB), DX", "VBROADCASTSS (DX), Y10"]


def load2(t, r, g, y):
    # weights 8g..8g+7 of the block at (r) as float32 in y (Y10: scale,
    # Y9: Q5_0's fifth bits, Y14: 16 or 8, Y15: 15, R10: shift table)
    if t == "F32":
        return [f"VMOVUPS {32*g}({r}), {y}"]
    if t == "F16":
        return [f"VCVTPH2PS {16*g}({r}), {y}"]
    if t == "Q8_0":
        return [f"VPMOVSXBD {2+8*g}({r}), {y}", f"VCVTDQ2PS {y}, {y}", f"VMULPS Y10, {y}, {y}"]
    qs = {"Q4_0": 2, "Q5_0": 6}[t] + 8 * (g % 2)
    o = [f"VPMOVZXBD {qs}({r}), {y}"]
    o += [f"VPAND Y15, {y}, {y}"] if g < 2 else [f"VPSRLD $4, {y}, {y}"]
    if t == "Q5_0":
        # bit e of qh, moved to bit 4
        o += [f"VPSRLVD {32*g}(R10), Y9, Y11", "VPSLLD $4, Y11, Y11", "VPAND Y14, Y11, Y11", f"VPOR Y11, {y}, {y}"]
    return o + [f"VPSUBD Y14, {y}, {y}", f"VCVTDQ2PS {y}, {y}", f"VMULPS Y10, {y}, {y}"]


def red2(a):
    # dotLanes' tree over the four accumulators a[0..3]; the result in
    # the low lane of X(a[0])
    x = lambda y: "X" + y[1:]
    return [f"VADDPS {a[2]}, {a[0]}, {a[0]}", f"VADDPS {a[3]}, {a[1]}, {a[1]}", f"VADDPS {a[1]}, {a[0]}, {a[0]}",
            f"VEXTRACTF128 $1, {a[0]}, {x(a[1])}", f"VADDPS {x(a[1])}, {x(a[0])}, {x(a[0])}",
            f"VMOVHLPS {x(a[0])}, {x(a[0])}, {x(a[1])}", f"VADDPS {x(a[1])}, {x(a[0])}, {x(a[0])}",
            f"VMOVSHDUP {x(a[0])}, {x(a[1])}", f"VADDSS {x(a[1])}, {x(a[0])}, {x(a[0])}"]


def consts2(t):
    o = []
    if t in ("Q4_0", "Q5_0"):
        o += ["MOVL $15, DX", "MOVQ DX, X15", "VPBROADCASTD X15, Y15",
              f"MOVL ${16 if t == 'Q5_0' else 8}, DX", "MOVQ DX, X14", "VPBROADCASTD X14, Y14"]
    if t == "Q5_0":
        o += ["MOVQ $·q5Shifts(SB), R10"]
    return o


def qh2(t, r):
    return [f"VPBROADCASTD 2({r}), Y9"] if t == "Q5_0" else []


o2 = ["", "// AVX2 kernels (dotgen/gen2.py): the same bits with four ymm",
      "// accumulators per row.", ""]
for t, bs in b2.items():
    lbl = t.replace("_", "")
    # two rows
    o2 += [f"// func dot{t}y2(out *float32, w0, w1 *byte, x *float32, blocks, pf int)",
           f"TEXT ·dot{t}y2(SB), NOSPLIT, $0-48",
           "MOVQ w0+8(FP), R8", "MOVQ w1+16(FP), R9", "MOVQ x+24(FP), DI", "MOVQ blocks+32(FP), CX",
           "MOVQ pf+40(FP), AX"] + consts2(t)
    o2 += [f"VXORPS Y{i}, Y{i}, Y{i}" for i in range(8)]
    # One block of both rows; four per loop iteration (as the AVX-512
    # kernels' UNROLL), then the remaining blocks one at a time.
    blk = []
    for i, r in enumerate(["R8", "R9"]):
        blk += [f"PREFETCHT0 ({r})(AX*1)"] + scale2(t, r) + qh2(t, r)
        for g in range(4):
            blk += load2(t, r, g, "Y8") + [f"VMULPS {32*g}(DI), Y8, Y8", f"VADDPS Y8, Y{4*i+g}, Y{4*i+g}"]
    blk += [f"ADDQ ${bs}, R8", f"ADDQ ${bs}, R9", "ADDQ $128, DI"]
    o2 += ["SHRQ $2, CX", f"JZ tail{lbl}y2", f"loop{lbl}y2:"] + blk * 4
    o2 += ["DECQ CX", f"JNZ loop{lbl}y2", f"tail{lbl}y2:", "MOVQ blocks+32(FP), CX", "ANDQ $3, CX",
           f"JZ done{lbl}y2", f"one{lbl}y2:"] + blk
    o2 += ["DECQ CX", f"JNZ one{lbl}y2", f"done{lbl}y2:", "MOVQ out+0(FP), DX"]
    o2 += red2(["Y0", "Y1", "Y2", "Y3"]) + ["VMOVSS X0, (DX)"]
    o2 += red2(["Y4", "Y5", "Y6", "Y7"]) + ["VMOVSS X4, 4(DX)", "VZEROUPPER", "RET", ""]
    # one row
    o2 += [f"// func dot{t}y1(w *byte, x *float32, blocks int) float32",
           f"TEXT ·dot{t}y1(SB), NOSPLIT, $0-28",
           "MOVQ w+0(FP), R8", "MOVQ x+8(FP), DI", "MOVQ blocks+16(FP), CX"] + consts2(t)
    o2 += [f"VXORPS Y{i}, Y{i}, Y{i}" for i in range(4)]
    o2 += [f"loop{lbl}y1:"] + scale2(t, "R8") + qh2(t, "R8")
    for g in range(4):
        o2 += load2(t, "R8", g, "Y8") + [f"VMULPS {32*g}(DI), Y8, Y8", f"VADDPS Y8, Y{g}, Y{g}"]
    o2 += [f"ADDQ ${bs}, R8", "ADDQ $128, DI", "DECQ CX", f"JNZ loop{lbl}y1"]
    o2 += red2(["Y0", "Y1", "Y2", "Y3"]) + ["VMOVSS X0, ret+24(FP)", "VZEROUPPER", "RET", ""]

# ---------------- Q4_K, one row ----------------
o2 += ["// func dotQ4_Ky1(w *byte, x *float32, blocks int) float32",
       "// dotQ4_Kx1 in AVX2: d·sc and dmin·m on the stack, then",
       "// w = d·sc·q − dmin·m per element.",
       "TEXT ·dotQ4_Ky1(SB), NOSPLIT, $96-28",
       "MOVQ w+0(FP), R8", "MOVQ x+8(FP), DI", "MOVQ blocks+16(FP), CX",
       "MOVL $15, AX", "MOVQ AX, X15", "VPBROADCASTD X15, Y15",
       "VXORPS Y0, Y0, Y0", "VXORPS Y1, Y1, Y1", "VXORPS Y2, Y2, Y2", "VXORPS Y3, Y3, Y3",
       "q4kblocky:",
       "PREFETCHT0 8192(R8)", "PREFETCHT0 8256(R8)", "PREFETCHT0 8320(R8)",
       "VPBROADCASTW (R8), X12", "VCVTPH2PS X12, Y12",
       "VPBROADCASTW 2(R8), X13", "VCVTPH2PS X13, Y13",
       ] + q4k_scales() + [
       "VMOVQ AX, X10", "VPMOVZXBD X10, Y10", "VCVTDQ2PS Y10, Y10", "VMULPS Y12, Y10, Y10",
       "VMOVQ BX, X11", "VPMOVZXBD X11, Y11", "VCVTDQ2PS Y11, Y11", "VMULPS Y13, Y11, Y11",
       "VMOVUPS Y10, 16(SP)", "VMOVUPS Y11, 48(SP)"]
for cc in range(4):
    for s in range(2):
        sb = 2 * cc + s
        o2 += [f"VBROADCASTSS {16+4*sb}(SP), Y12", f"VBROADCASTSS {48+4*sb}(SP), Y13"]
        for g in range(4):
            o2 += [f"VPMOVZXBD {16+32*cc+8*g}(R8), Y8"]
            o2 += ["VPAND Y15, Y8, Y8"] if s == 0 else ["VPSRLD $4, Y8, Y8"]
            o2 += ["VCVTDQ2PS Y8, Y8", "VMULPS Y12, Y8, Y8", "VSUBPS Y13, Y8, Y8",
                   f"VMULPS {4*(32*sb+8*g)}(DI), Y8, Y8", f"VADDPS Y8, Y{g}, Y{g}"]
o2 += ["ADDQ $144, R8", "ADDQ $1024, DI", "DECQ CX", "JNZ q4kblocky"]
o2 += red2(["Y0", "Y1", "Y2", "Y3"]) + ["VMOVSS X0, ret+24(FP)", "VZEROUPPER", "RET", ""]

# ---------------- Q6_K, one row ----------------
o2 += ["// func dotQ6_Ky1(w *byte, x *float32, blocks int) float32",
       "// dotQ6_Kx1 in AVX2: d·scale (16) on the stack, then",
       "// w = (d·scale)·(q−32) per element.",
       "TEXT ·dotQ6_Ky1(SB), NOSPLIT, $64-28",
       "MOVQ w+0(FP), R8", "MOVQ x+8(FP), DI", "MOVQ blocks+16(FP), CX",
       "MOVL $15, AX", "MOVQ AX, X15", "VPBROADCASTD X15, Y15",
       "MOVL $3, AX", "MOVQ AX, X14", "VPBROADCASTD X14, Y14",
       "MOVL $32, AX", "MOVQ AX, X13", "VPBROADCASTD X13, Y13",
       "VXORPS Y0, Y0, Y0", "VXORPS Y1, Y1, Y1", "VXORPS Y2, Y2, Y2", "VXORPS Y3, Y3, Y3",
       "q6kblocky:",
       "PREFETCHT0 8192(R8)", "PREFETCHT0 8256(R8)", "PREFETCHT0 8320(R8)", "PREFETCHT0 8384(R8)",
       "VPBROADCASTW 208(R8), X12", "VCVTPH2PS X12, Y12",
       "VPMOVSXBD 192(R8), Y10", "VCVTDQ2PS Y10, Y10", "VMULPS Y12, Y10, Y10", "VMOVUPS Y10, 0(SP)",
       "VPMOVSXBD 200(R8), Y10", "VCVTDQ2PS Y10, Y10", "VMULPS Y12, Y10, Y10", "VMOVUPS Y10, 32(SP)"]
for n in range(2):
    for g in range(4):
        for h in range(2):
            sidx = 8 * n + 2 * g + h
            o2 += [f"VBROADCASTSS {4*sidx}(SP), Y12"]
            for s in range(2):
                ql = 64 * n + 32 * (g % 2) + 16 * h + 8 * s
                qh = 128 + 32 * n + 16 * h + 8 * s
                e = 128 * n + 32 * g + 16 * h + 8 * s
                o2 += [f"VPMOVZXBD {ql}(R8), Y8"]
                o2 += ["VPAND Y15, Y8, Y8"] if g < 2 else ["VPSRLD $4, Y8, Y8"]
                o2 += [f"VPMOVZXBD {qh}(R8), Y9"]
                if g > 0:
                    o2 += [f"VPSRLD ${2*g}, Y9, Y9"]
                o2 += ["VPAND Y14, Y9, Y9", "VPSLLD $4, Y9, Y9", "VPOR Y9, Y8, Y8", "VPSUBD Y13, Y8, Y8",
                       "VCVTDQ2PS Y8, Y8", "VMULPS Y12, Y8, Y8", f"VMULPS {4*e}(DI), Y8, Y8",
                       f"VADDPS Y8, Y{2*h+s}, Y{2*h+s}"]
o2 += ["ADDQ $210, R8", "ADDQ $1024, DI", "DECQ CX", "JNZ q6kblocky"]
o2 += red2(["Y0", "Y1", "Y2", "Y3"]) + ["VMOVSS X0, ret+24(FP)", "VZEROUPPER", "RET", ""]

o2 += ["// func roundF16x8(x *float32, n int)",
       "// roundF16x16 in AVX2/F16C, 8 floats at a time.",
       "TEXT ·roundF16x8(SB), NOSPLIT, $0-16",
       "MOVQ x+0(FP), SI", "MOVQ n+8(FP), CX",
       "roundf16loop8:", "VMOVUPS (SI), Y0", "VCVTPS2PH $0, Y0, X1", "VCVTPH2PS X1, Y0", "VMOVUPS Y0, (SI)",
       "ADDQ $32, SI", "DECQ CX", "JNZ roundf16loop8", "VZEROUPPER", "RET", ""]

print("\n".join(("\t" + l if l and not l.endswith(":") and not l.startswith("//") and not l.startswith("TEXT") else l) for l in o2))

# ---------------- attention's P·V accumulation ----------------
# axpy: out[i] = out[i] + p·v[i]; axpbypy: out[i] = out[i]·c + p·v[i];
# every product rounded, no fused multiply-add (attention.go's loops).
AX = []
for isa, reg, w, sfx in (("AVX-512", "Z", 16, "16"), ("AVX2", "Y", 8, "8")):
    bc = "VBROADCASTSS"
    AX += [f"// func accumPV{sfx}(out, v *float32, p float32, n int)",
           f"// out[i] += p·v[i] for n·{w} floats ({isa}).",
           f"TEXT ·accumPV{sfx}(SB), NOSPLIT, $0-32",
           "MOVQ out+0(FP), DI", "MOVQ v+8(FP), SI", f"{bc} p+16(FP), {reg}2", "MOVQ n+24(FP), CX",
           f"accumpv{sfx}:", f"VMULPS (SI), {reg}2, {reg}0", f"VADDPS (DI), {reg}0, {reg}0", f"VMOVUPS {reg}0, (DI)",
           f"ADDQ ${4*w}, SI", f"ADDQ ${4*w}, DI", "DECQ CX", f"JNZ accumpv{sfx}", "VZEROUPPER", "RET", "",
           f"// func rescalePV{sfx}(out, v *float32, c, p float32, n int)",
           f"// out[i] = out[i]·c + p·v[i] for n·{w} floats ({isa}).",
           f"TEXT ·rescalePV{sfx}(SB), NOSPLIT, $0-32",
           "MOVQ out+0(FP), DI", "MOVQ v+8(FP), SI", f"{bc} c+16(FP), {reg}3", f"{bc} p+20(FP), {reg}2", "MOVQ n+24(FP), CX",
           f"rescalepv{sfx}:", f"VMULPS (SI), {reg}2, {reg}0", f"VMULPS (DI), {reg}3, {reg}1", f"VADDPS {reg}1, {reg}0, {reg}0",
           f"VMOVUPS {reg}0, (DI)",
           f"ADDQ ${4*w}, SI", f"ADDQ ${4*w}, DI", "DECQ CX", f"JNZ rescalepv{sfx}", "VZEROUPPER", "RET", ""]
print("\n".join(("\t" + l if l and not l.endswith(":") and not l.startswith("//") and not l.startswith("TEXT") else l) for l in AX))
