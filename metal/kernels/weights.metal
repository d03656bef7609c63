// weights.metal — weight rows of every dtype the cpu backend dequantizes,
// read in chunks of 8 weights (gguf/dequant.go has the block layouts;
// ggml's formulas d·q, d·q + m, d·sc·q − dmin·m are evaluated in float32
// here, FMA allowed).
//
// A weight type W is a struct with
//   QUANT      1 for block-quantized types;
//   BS, BB     elements and bytes per block (a row is K/BS blocks);
//   raw        the bytes of one chunk as loaded (registers);
//   load(row, c, a4)        reads chunk c of a row (a4: the row starts at
//                           a 4-byte aligned address): the loads of a SIMD
//                           group's 32 consecutive chunks touch adjacent
//                           bytes;
//   decode(r, c, w, a, b)   turns them into 8 float weights: w[0..3]
//                           multiply x[a..a+3], w[4..7] x[b..b+3] (a, b
//                           multiples of 4; the K/8 chunks of a row
//                           partition its K elements);
//   elem(row, i)            element i (F32, F16, BF16 only: their rows may
//                           be unaligned or K not a multiple of 8).
// The constants are enumerators (no storage: Metal allows no static data
// members outside the constant address space).
// Alignment: F32/F16/BF16 chunks need the row 16-byte aligned (kernels
// check with amod and fall back to elem); quantized blocks are read at the
// alignment their size gives (Q4_0 18 B, Q8_0 34 B, Q5_0 22 B, Q3_K 110 B,
// Q6_K 210 B: 2 bytes; Q4_1 20 B, Q2_K 84 B, Q8_K 292 B: 4 bytes; Q5_1,
// Q4_K, Q5_K: 8+), 4-byte loads only where a4 allows them.

struct WF32 {
    enum { QUANT = 0, BS = 1, BB = 4 };
    struct raw {
        float4 lo, hi;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const float4* p = (device const float4*)row + 2 * c;
        raw r;
        r.lo = p[0];
        r.hi = p[1];
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        w[0] = r.lo.x;
        w[1] = r.lo.y;
        w[2] = r.lo.z;
        w[3] = r.lo.w;
        w[4] = r.hi.x;
        w[5] = r.hi.y;
        w[6] = r.hi.z;
        w[7] = r.hi.w;
        a = 8 * c;
        b = a + 4;
    }
    static float elem(device const uchar* row, int i) { return ((device const float*)row)[i]; }
};

struct WF16 {
    enum { QUANT = 0, BS = 1, BB = 2 };
    struct raw {
        uint4 q;
    };
    static raw load(device const uchar* row, int c, bool) {
        raw r;
        r.q = ((device const uint4*)row)[c];
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        w[0] = f16f(r.q.x);
        w[1] = f16f(r.q.x >> 16);
        w[2] = f16f(r.q.y);
        w[3] = f16f(r.q.y >> 16);
        w[4] = f16f(r.q.z);
        w[5] = f16f(r.q.z >> 16);
        w[6] = f16f(r.q.w);
        w[7] = f16f(r.q.w >> 16);
        a = 8 * c;
        b = a + 4;
    }
    static float elem(device const uchar* row, int i) { return f16f(uint(((device const ushort*)row)[i])); }
};

struct WBF16 {
    enum { QUANT = 0, BS = 1, BB = 2 };
    struct raw {
        uint4 q;
    };
    static raw load(device const uchar* row, int c, bool) {
        raw r;
        r.q = ((device const uint4*)row)[c];
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        w[0] = bf16f(r.q.x);
        w[1] = bf16f(r.q.x >> 16);
        w[2] = bf16f(r.q.y);
        w[3] = bf16f(r.q.y >> 16);
        w[4] = bf16f(r.q.z);
        w[5] = bf16f(r.q.z >> 16);
        w[6] = bf16f(r.q.w);
        w[7] = bf16f(r.q.w >> 16);
        a = 8 * c;
        b = a + 4;
    }
    static float elem(device const uchar* row, int i) { return bf16f(uint(((device const ushort*)row)[i])); }
};

// Q8_0: d f16, qs[32] int8; x = q·d. Chunk c: 8 consecutive quants.
struct WQ8_0 {
    enum { QUANT = 1, BS = 32, BB = 34 };
    struct raw {
        uint d, q0, q1;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        device const uchar* q = blk + 2 + 8 * (c & 3);
        raw r;
        r.d = ld_u16(blk);
        r.q0 = ld_u32_2(q);
        r.q1 = ld_u32_2(q + 4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = f16f(r.d);
        for (int i = 0; i < 4; i++) {
            w[i] = float(s8(r.q0 >> (8 * i))) * d;
            w[4 + i] = float(s8(r.q1 >> (8 * i))) * d;
        }
        a = 8 * c;
        b = a + 4;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q4_0: d f16, qs[16]; low nibbles are elements 0–15, high 16–31;
// x = (q−8)·d. Chunk c: qs bytes 4(c%4)…+3, both nibbles.
struct WQ4_0 {
    enum { QUANT = 1, BS = 32, BB = 18 };
    struct raw {
        uint d, q;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        raw r;
        r.d = ld_u16(blk);
        r.q = ld_u32_2(blk + 2 + 4 * (c & 3));
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = f16f(r.d);
        for (int i = 0; i < 4; i++) {
            w[i] = float(int((r.q >> (8 * i)) & 15u) - 8) * d;
            w[4 + i] = float(int((r.q >> (8 * i + 4)) & 15u) - 8) * d;
        }
        a = 32 * (c >> 2) + 4 * (c & 3);
        b = a + 16;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// IQ4_NL: d f16, qs[16] indices into ggml's non-linear grid
// kvalues_iq4nl; low nibbles are elements 0–15, high 16–31; x = grid[q]·d.
// Chunk c as WQ4_0.
struct WIQ4_NL {
    enum { QUANT = 1, BS = 32, BB = 18 };
    struct raw {
        uint d, q;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        raw r;
        r.d = ld_u16(blk);
        r.q = ld_u32_2(blk + 2 + 4 * (c & 3));
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const int grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
        const float d = f16f(r.d);
        for (int i = 0; i < 4; i++) {
            w[i] = float(grid[(r.q >> (8 * i)) & 15u]) * d;
            w[4 + i] = float(grid[(r.q >> (8 * i + 4)) & 15u]) * d;
        }
        a = 32 * (c >> 2) + 4 * (c & 3);
        b = a + 16;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q4_1: d f16, m f16, qs[16]; x = q·d + m.
struct WQ4_1 {
    enum { QUANT = 1, BS = 32, BB = 20 };
    struct raw {
        uint dm, q;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        raw r;
        r.dm = ld_u32(blk, a4);
        r.q = ld_u32(blk + 4 + 4 * (c & 3), a4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = f16f(r.dm), m = f16f(r.dm >> 16);
        for (int i = 0; i < 4; i++) {
            w[i] = float((r.q >> (8 * i)) & 15u) * d + m;
            w[4 + i] = float((r.q >> (8 * i + 4)) & 15u) * d + m;
        }
        a = 32 * (c >> 2) + 4 * (c & 3);
        b = a + 16;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q5_0: d f16, qh u32 (bit j is the fifth bit of element j), qs[16];
// x = (q−16)·d.
struct WQ5_0 {
    enum { QUANT = 1, BS = 32, BB = 22 };
    struct raw {
        uint d, qh, q;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        raw r;
        r.d = ld_u16(blk);
        r.qh = ld_u32_2(blk + 2);
        r.q = ld_u32_2(blk + 6 + 4 * (c & 3));
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = f16f(r.d);
        const int j = 4 * (c & 3);
        for (int i = 0; i < 4; i++) {
            const uint lo = ((r.q >> (8 * i)) & 15u) | (((r.qh >> (j + i)) & 1u) << 4);
            const uint hi = ((r.q >> (8 * i + 4)) & 15u) | (((r.qh >> (j + i + 16)) & 1u) << 4);
            w[i] = float(int(lo) - 16) * d;
            w[4 + i] = float(int(hi) - 16) * d;
        }
        a = 32 * (c >> 2) + j;
        b = a + 16;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q5_1: d f16, m f16, qh u32, qs[16]; x = q·d + m.
struct WQ5_1 {
    enum { QUANT = 1, BS = 32, BB = 24 };
    struct raw {
        uint dm, qh, q;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 2) * BB;
        raw r;
        r.dm = ld_u32(blk, a4);
        r.qh = ld_u32(blk + 4, a4);
        r.q = ld_u32(blk + 8 + 4 * (c & 3), a4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = f16f(r.dm), m = f16f(r.dm >> 16);
        const int j = 4 * (c & 3);
        for (int i = 0; i < 4; i++) {
            const uint lo = ((r.q >> (8 * i)) & 15u) | (((r.qh >> (j + i)) & 1u) << 4);
            const uint hi = ((r.q >> (8 * i + 4)) & 15u) | (((r.qh >> (j + i + 16)) & 1u) << 4);
            w[i] = float(lo) * d + m;
            w[4 + i] = float(hi) * d + m;
        }
        a = 32 * (c >> 2) + j;
        b = a + 16;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q8_K: d f32, qs[256] int8, bsums[16] int16 (unused); x = q·d.
struct WQ8_K {
    enum { QUANT = 1, BS = 256, BB = 292 };
    struct raw {
        uint d, q0, q1;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        device const uchar* q = blk + 4 + 8 * (c & 31);
        raw r;
        r.d = ld_u32(blk, a4);
        r.q0 = ld_u32(q, a4);
        r.q1 = ld_u32(q + 4, a4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const float d = as_type<float>(r.d);
        for (int i = 0; i < 4; i++) {
            w[i] = float(s8(r.q0 >> (8 * i))) * d;
            w[4 + i] = float(s8(r.q1 >> (8 * i))) * d;
        }
        a = 8 * c;
        b = a + 4;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// The k-quants Q2_K and Q3_K share one chunk map. Super-block of 256 =
// two halves n of 128; in a half, 2-bit group g (shift 2g) of byte l of
// the half's 32 quant bytes is element 128n + 32g + l, with scale index
// 8n + 2g + l/16. Chunk c (32 per super-block): n = c/16, groups
// {2p, 2p+1} with p = c/8%2, bytes 4(c%8)…+3: runs a = 128n + 64p + l and
// b = a + 32, scale indices sa = 8n + 4p + l/16 and sa + 2.
struct KMap2 {
    int n, p, l, a, sa;
};
inline KMap2 kmap2(int c) {
    KMap2 m;
    const int r = c & 31;
    m.n = r >> 4;
    m.p = (r >> 3) & 1;
    m.l = 4 * (r & 7);
    m.a = 256 * (c >> 5) + 128 * m.n + 64 * m.p + m.l;
    m.sa = 8 * m.n + 4 * m.p + (m.l >> 4);
    return m;
}

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d f16,
// dmin f16; x = d·sc·q − dmin·m.
struct WQ2_K {
    enum { QUANT = 1, BS = 256, BB = 84 };
    struct raw {
        uint q, dd, sa, sb;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        const KMap2 m = kmap2(c);
        raw r;
        r.q = ld_u32(blk + 16 + 32 * m.n + m.l, a4);
        r.dd = ld_u32(blk + 80, a4);
        r.sa = blk[m.sa];
        r.sb = blk[m.sa + 2];
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const KMap2 m = kmap2(c);
        const float d = f16f(r.dd), dmin = f16f(r.dd >> 16);
        const float dla = d * float(r.sa & 15u), mla = dmin * float(r.sa >> 4);
        const float dlb = d * float(r.sb & 15u), mlb = dmin * float(r.sb >> 4);
        const int sh = 4 * m.p;
        for (int i = 0; i < 4; i++) {
            w[i] = dla * float((r.q >> (8 * i + sh)) & 3u) - mla;
            w[4 + i] = dlb * float((r.q >> (8 * i + sh + 2)) & 3u) - mlb;
        }
        a = m.a;
        b = m.a + 32;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// q3_scale returns Q3_K's 6-bit scale j (0–63) from the twelve scale bytes
// s: low 4 bits from byte j%8 (high nibble for j ≥ 8), high 2 bits from
// byte 8 + j%4, bits 2·(j/4).
inline int q3_scale(device const uchar* s, int j) {
    const uint lo = (uint(s[j & 7]) >> (j >= 8 ? 4 : 0)) & 15u;
    const uint hi = (uint(s[8 + (j & 3)]) >> (2 * (j >> 2))) & 3u;
    return int(lo | (hi << 4));
}

// Q3_K: hmask[32] (third bit; cleared means subtract 4), qs[64] (low two
// bits), scales[12] (sixteen 6-bit scales, minus 32), d f16. The hmask bit
// of element 128n + 32g + l is bit 4n + g of hmask[l].
struct WQ3_K {
    enum { QUANT = 1, BS = 256, BB = 110 };
    struct raw {
        uint q, hm, d;
        int sa, sb;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        const KMap2 m = kmap2(c);
        raw r;
        r.q = ld_u32_2(blk + 32 + 32 * m.n + m.l);
        r.hm = ld_u32_2(blk + m.l);
        r.d = ld_u16(blk + 108);
        r.sa = q3_scale(blk + 96, m.sa);
        r.sb = q3_scale(blk + 96, m.sa + 2);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const KMap2 m = kmap2(c);
        const float d = f16f(r.d);
        const float dla = d * float(r.sa - 32), dlb = d * float(r.sb - 32);
        const int sh = 4 * m.p, hb = 4 * m.n + 2 * m.p;
        for (int i = 0; i < 4; i++) {
            int qa = int((r.q >> (8 * i + sh)) & 3u);
            int qb = int((r.q >> (8 * i + sh + 2)) & 3u);
            if (((r.hm >> (8 * i + hb)) & 1u) == 0u) qa -= 4;
            if (((r.hm >> (8 * i + hb + 1)) & 1u) == 0u) qb -= 4;
            w[i] = dla * float(qa);
            w[4 + i] = dlb * float(qb);
        }
        a = m.a;
        b = m.a + 32;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// k4_byte is byte j (0–11) of the twelve scale bytes of Q4_K/Q5_K held
// little-endian in s0, s1, s2; k4_scale_min unpacks scale and min j (0–7)
// as ggml's get_scale_min_k4 does.
inline uint k4_byte(uint s0, uint s1, uint s2, int j) {
    const uint w = j < 4 ? s0 : (j < 8 ? s1 : s2);
    return (w >> (8 * (j & 3))) & 255u;
}
inline void k4_scale_min(uint s0, uint s1, uint s2, int j, thread uint& sc, thread uint& m) {
    if (j < 4) {
        sc = k4_byte(s0, s1, s2, j) & 63u;
        m = k4_byte(s0, s1, s2, j + 4) & 63u;
    } else {
        sc = (k4_byte(s0, s1, s2, j + 4) & 15u) | ((k4_byte(s0, s1, s2, j - 4) >> 6) << 4);
        m = (k4_byte(s0, s1, s2, j + 4) >> 4) | ((k4_byte(s0, s1, s2, j) >> 6) << 4);
    }
}

// Q4_K: d f16, dmin f16, scales[12], qs[128]. 64-element piece e uses qs
// bytes 32e…32e+31: low nibbles are elements 64e + l (scale/min 2e), high
// nibbles 64e + 32 + l (2e + 1); x = d·sc·q − dmin·m. Chunk c: piece
// e = c%32/8, bytes l = 4(c%8)…+3.
struct WQ4_K {
    enum { QUANT = 1, BS = 256, BB = 144 };
    struct raw {
        uint dd, s0, s1, s2, q;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        const int e = (c & 31) >> 3, l = 4 * (c & 7);
        raw r;
        r.dd = ld_u32(blk, a4);
        r.s0 = ld_u32(blk + 4, a4);
        r.s1 = ld_u32(blk + 8, a4);
        r.s2 = ld_u32(blk + 12, a4);
        r.q = ld_u32(blk + 16 + 32 * e + l, a4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const int e = (c & 31) >> 3, l = 4 * (c & 7);
        const float d = f16f(r.dd), dmin = f16f(r.dd >> 16);
        uint sc1, m1, sc2, m2;
        k4_scale_min(r.s0, r.s1, r.s2, 2 * e, sc1, m1);
        k4_scale_min(r.s0, r.s1, r.s2, 2 * e + 1, sc2, m2);
        const float d1 = d * float(sc1), dm1 = dmin * float(m1);
        const float d2 = d * float(sc2), dm2 = dmin * float(m2);
        for (int i = 0; i < 4; i++) {
            w[i] = d1 * float((r.q >> (8 * i)) & 15u) - dm1;
            w[4 + i] = d2 * float((r.q >> (8 * i + 4)) & 15u) - dm2;
        }
        a = 256 * (c >> 5) + 64 * e + l;
        b = a + 32;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q5_K: d f16, dmin f16, scales[12], qh[32], qs[128]; as Q4_K with a fifth
// bit: bit 2e of qh[l] for the low nibbles of piece e, bit 2e+1 for the
// high ones.
struct WQ5_K {
    enum { QUANT = 1, BS = 256, BB = 176 };
    struct raw {
        uint dd, s0, s1, s2, qh, q;
    };
    static raw load(device const uchar* row, int c, bool a4) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        const int e = (c & 31) >> 3, l = 4 * (c & 7);
        raw r;
        r.dd = ld_u32(blk, a4);
        r.s0 = ld_u32(blk + 4, a4);
        r.s1 = ld_u32(blk + 8, a4);
        r.s2 = ld_u32(blk + 12, a4);
        r.qh = ld_u32(blk + 16 + l, a4);
        r.q = ld_u32(blk + 48 + 32 * e + l, a4);
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const int e = (c & 31) >> 3, l = 4 * (c & 7);
        const float d = f16f(r.dd), dmin = f16f(r.dd >> 16);
        uint sc1, m1, sc2, m2;
        k4_scale_min(r.s0, r.s1, r.s2, 2 * e, sc1, m1);
        k4_scale_min(r.s0, r.s1, r.s2, 2 * e + 1, sc2, m2);
        const float d1 = d * float(sc1), dm1 = dmin * float(m1);
        const float d2 = d * float(sc2), dm2 = dmin * float(m2);
        for (int i = 0; i < 4; i++) {
            const uint lo = ((r.q >> (8 * i)) & 15u) | (((r.qh >> (8 * i + 2 * e)) & 1u) << 4);
            const uint hi = ((r.q >> (8 * i + 4)) & 15u) | (((r.qh >> (8 * i + 2 * e + 1)) & 1u) << 4);
            w[i] = d1 * float(lo) - dm1;
            w[4 + i] = d2 * float(hi) - dm2;
        }
        a = 256 * (c >> 5) + 64 * e + l;
        b = a + 32;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};

// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8, d
// f16; x = d·sc·(q−32). In half n (128 elements; ql bytes 64n…, qh bytes
// 32n…, scales 8n…), for l < 32: element l is the low nibble of ql[l] with
// qh[l] bits 0–1, l+32 the low nibble of ql[l+32] with bits 2–3, l+64 the
// high nibble of ql[l] with bits 4–5, l+96 the high nibble of ql[l+32]
// with bits 6–7; scale index l/16 + 0, 2, 4, 6. Chunk c: half n = c%32/16,
// ql bytes 4(c%16)…+3 (both nibbles).
struct K6Map {
    int n, l, hi, a;
};
inline K6Map k6map(int c) {
    K6Map m;
    const int r = c & 31;
    m.n = r >> 4;
    m.hi = (r >> 3) & 1;
    m.l = 4 * (r & 7);
    m.a = 256 * (c >> 5) + 128 * m.n + 32 * m.hi + m.l;
    return m;
}

struct WQ6_K {
    enum { QUANT = 1, BS = 256, BB = 210 };
    struct raw {
        uint ql, qh, d;
        int sa, sb;
    };
    static raw load(device const uchar* row, int c, bool) {
        device const uchar* blk = row + ulong(c >> 5) * BB;
        const K6Map m = k6map(c);
        const int is = 192 + 8 * m.n + (m.l >> 4) + 2 * m.hi;
        raw r;
        r.ql = ld_u32_2(blk + 64 * m.n + 32 * m.hi + m.l);
        r.qh = ld_u32_2(blk + 128 + 32 * m.n + m.l);
        r.d = ld_u16(blk + 208);
        r.sa = s8(uint(blk[is]));
        r.sb = s8(uint(blk[is + 4]));
        return r;
    }
    static void decode(thread const raw& r, int c, thread float* w, thread int& a, thread int& b) {
        const K6Map m = k6map(c);
        const float d = f16f(r.d);
        const float da = d * float(r.sa), db = d * float(r.sb);
        const int sh = 2 * m.hi;
        for (int i = 0; i < 4; i++) {
            const uint qh = r.qh >> (8 * i + sh);
            const int qa = int(((r.ql >> (8 * i)) & 15u) | ((qh & 3u) << 4)) - 32;
            const int qb = int(((r.ql >> (8 * i + 4)) & 15u) | (((qh >> 4) & 3u) << 4)) - 32;
            w[i] = da * float(qa);
            w[4 + i] = db * float(qb);
        }
        a = m.a;
        b = m.a + 64;
    }
    static float elem(device const uchar*, int) { return nan_f32(); }
};
