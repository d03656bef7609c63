// rows.metal — the row ops: OpRMSNorm, OpAddBias, OpAdd, OpSwiGLU, OpCopy,
// OpEmbed. Coalesced: thread i of a threadgroup touches elements i, i+nt,
// … of its row; every element is read and written by one thread, so out
// may equal an input.
//
// RMSNorm: a threadgroup per row (up to 256 threads, fewer for short
// rows); Σx² per thread with fma, group_sum (fixed order, nt/32 floats of
// threadgroup memory), then out = (x·r)·γ with r = 1/sqrt(ss/n + eps)
// (precise::sqrt, correctly rounded). Moves 2 row reads + 1 write.
// Buffers: out 0, x 1, γ 2.
//
// Elementwise ops (add_bias, add, swiglu, copy, embed): grid (rows,
// ceil(n / span)), span = nt·EW_PER elements per threadgroup, so a long
// row (ff = 4864) spreads over several GPU cores even at T = 1. Quantized
// weights (γ, bias, embedding rows) are read in chunks of 8 (weights.metal);
// a threadgroup then takes chunks [y·span/8, (y+1)·span/8).

struct RMSNormArgs {
    int n;
    float eps;
    uint al;
};

template <class W, class TI, class TO>
inline void rmsnorm(device TO* out, device const TI* x, device const uchar* gw, constant RMSNormArgs& p, Grp g,
                    threadgroup float* part) {
    const int n = p.n;
    const ulong o = ulong(g.tg.x) * ulong(n);
    float ss = 0.0f;
    for (int i = int(g.tid); i < n; i += int(g.nt)) {
        const float v = act_ld(x, o + ulong(i));
        ss = fma(v, v, ss);
    }
    ss = group_sum(ss, g, part);
    const float r = 1.0f / precise::sqrt(ss / float(n) + p.eps);
    if (W::QUANT) {
        const bool a4 = (amod(p.al, 2) & 3u) == 0u;
        for (int c = int(g.tid); c < (n >> 3); c += int(g.nt)) {
            float wv[8];
            int a, b;
            const typename W::raw q = W::load(gw, c, a4);
            W::decode(q, c, wv, a, b);
            for (int i = 0; i < 4; i++) {
                act_st(out, o + ulong(a + i), (act_ld(x, o + ulong(a + i)) * r) * wv[i]);
                act_st(out, o + ulong(b + i), (act_ld(x, o + ulong(b + i)) * r) * wv[4 + i]);
            }
        }
    } else {
        for (int i = int(g.tid); i < n; i += int(g.nt)) {
            act_st(out, o + ulong(i), (act_ld(x, o + ulong(i)) * r) * W::elem(gw, i));
        }
    }
}

// ew_range returns this threadgroup's element range [lo, hi) of a row of n.
inline void ew_range(int n, Grp g, thread int& lo, thread int& hi) {
    const int span = int(g.nt) * EW_PER;
    lo = int(g.tg.y) * span;
    hi = min(n, lo + span);
}

// ew_chunks returns this threadgroup's chunk range of a row of n
// quantized weights (n/8 chunks).
inline void ew_chunks(int n, Grp g, thread int& lo, thread int& hi) {
    const int span = (int(g.nt) * EW_PER) >> 3;
    lo = int(g.tg.y) * span;
    hi = min(n >> 3, lo + span);
}

// Buffers: out 0, x 1, bias 2.
struct AddBiasArgs {
    int n;
    uint al;
};

template <class W, class TI, class TO>
inline void add_bias(device TO* out, device const TI* x, device const uchar* bias, constant AddBiasArgs& p, Grp g) {
    const int n = p.n;
    const ulong o = ulong(g.tg.x) * ulong(n);
    int lo, hi;
    if (W::QUANT) {
        const bool a4 = (amod(p.al, 2) & 3u) == 0u;
        ew_chunks(n, g, lo, hi);
        for (int c = lo + int(g.tid); c < hi; c += int(g.nt)) {
            float wv[8];
            int a, b;
            const typename W::raw q = W::load(bias, c, a4);
            W::decode(q, c, wv, a, b);
            for (int i = 0; i < 4; i++) {
                act_st(out, o + ulong(a + i), act_ld(x, o + ulong(a + i)) + wv[i]);
                act_st(out, o + ulong(b + i), act_ld(x, o + ulong(b + i)) + wv[4 + i]);
            }
        }
    } else {
        ew_range(n, g, lo, hi);
        for (int i = lo + int(g.tid); i < hi; i += int(g.nt)) {
            act_st(out, o + ulong(i), act_ld(x, o + ulong(i)) + W::elem(bias, i));
        }
    }
}

// Buffers: out 0, a 1, b 2.
struct AddArgs {
    int n;
    uint al;
};

template <class TI, class TO>
inline void add(device TO* out, device const TI* a, device const TI* b, constant AddArgs& p, Grp g) {
    const ulong o = ulong(g.tg.x) * ulong(p.n);
    int lo, hi;
    ew_range(p.n, g, lo, hi);
    for (int i = lo + int(g.tid); i < hi; i += int(g.nt)) {
        act_st(out, o + ulong(i), act_ld(a, o + ulong(i)) + act_ld(b, o + ulong(i)));
    }
}

// swiglu: silu(g)·u with silu(g) = g/(1 + exp(−g)) (precise::exp).
// Buffers: out 0, gate 1, up 2.
struct SwiGLUArgs {
    int n;
    uint al;
};

template <class TI, class TO>
inline void swiglu(device TO* out, device const TI* gate, device const TI* up, constant SwiGLUArgs& p, Grp g) {
    const ulong o = ulong(g.tg.x) * ulong(p.n);
    int lo, hi;
    ew_range(p.n, g, lo, hi);
    for (int i = lo + int(g.tid); i < hi; i += int(g.nt)) {
        const float v = act_ld(gate, o + ulong(i));
        act_st(out, o + ulong(i), v / (1.0f + precise::exp(-v)) * act_ld(up, o + ulong(i)));
    }
}

// copy_rows: dst[p+r, :] = src[r, :], p read from device memory (pos[0]).
// Buffers: dst 0, src 1, pos 2.
struct CopyArgs {
    int n;
    uint al;
};

template <class TI, class TO>
inline void copy_rows(device TO* dst, device const TI* src, device const int* pos, constant CopyArgs& p, Grp g) {
    const ulong r = ulong(g.tg.x);
    const ulong so = r * ulong(p.n), dof = (ulong(pos[0]) + r) * ulong(p.n);
    int lo, hi;
    ew_range(p.n, g, lo, hi);
    for (int i = lo + int(g.tid); i < hi; i += int(g.nt)) act_st(dst, dof + ulong(i), act_ld(src, so + ulong(i)));
}

// embed: out[t, :] = W[ids[t], :] (ids in range: callers check).
// Buffers: out 0, w 1, ids 2.
struct EmbedArgs {
    int d;
    uint al;
};

template <class W, class TO>
inline void embed(device TO* out, device const uchar* w, device const int* ids, constant EmbedArgs& p, Grp g) {
    const int d = p.d;
    const ulong o = ulong(g.tg.x) * ulong(d);
    const ulong rb = ulong(d / W::BS) * W::BB;
    const ulong ro = ulong(ids[g.tg.x]) * rb;
    device const uchar* row = w + ro;
    int lo, hi;
    if (W::QUANT) {
        const bool a4 = ((amod(p.al, 1) + uint(ro)) & 3u) == 0u;
        ew_chunks(d, g, lo, hi);
        for (int c = lo + int(g.tid); c < hi; c += int(g.nt)) {
            float wv[8];
            int a, b;
            const typename W::raw q = W::load(row, c, a4);
            W::decode(q, c, wv, a, b);
            for (int i = 0; i < 4; i++) {
                act_st(out, o + ulong(a + i), wv[i]);
                act_st(out, o + ulong(b + i), wv[4 + i]);
            }
        }
    } else {
        ew_range(d, g, lo, hi);
        for (int i = lo + int(g.tid); i < hi; i += int(g.nt)) act_st(out, o + ulong(i), W::elem(row, i));
    }
}
