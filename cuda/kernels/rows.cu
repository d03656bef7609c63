// rows.cu — the row ops: OpRMSNorm, OpAddBias, OpAdd, OpSwiGLU, OpCopy,
// OpEmbed. Coalesced: thread i of a block touches elements i, i+blockDim,
// … of its row; every element is read and written by one thread, so out
// may equal an input.
//
// RMSNorm: a block per row (RN_THREADS threads at most, fewer for short
// rows); Σx² per thread with fmaf, block_sum (fixed order), then
// out = (x·r)·γ with r = 1/sqrtf(ss/n + eps). Moves 2 row reads + 1 write.
//
// Elementwise ops (add_bias, add, swiglu, copy, embed): grid (rows,
// ceil(n / span)), span = blockDim.x·EW_PER elements per block, so a long
// row (ff = 4864) spreads over several SMs even at T = 1. Quantized
// weights (γ, bias, embedding rows) are read in chunks of 8 (weights.cu);
// a block then takes chunks [y·span/8, (y+1)·span/8).

template <class W, class TI, class TO>
KFN void rmsnorm(TO* out, const TI* x, const u8* g, int n, float eps) {
    const u64 o = (u64)blockIdx.x * n;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = act_ld(x, o + i);
        ss = fmaf(v, v, ss);
    }
    ss = block_sum(ss);
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    if (W::QUANT) {
        for (int c = threadIdx.x; c < (n >> 3); c += blockDim.x) {
            float wv[8];
            int a, b;
            W::decode(W::load(g, c), c, wv, a, b);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                act_st(out, o + a + i, (act_ld(x, o + a + i) * r) * wv[i]);
                act_st(out, o + b + i, (act_ld(x, o + b + i) * r) * wv[4 + i]);
            }
        }
    } else {
        for (int i = threadIdx.x; i < n; i += blockDim.x) act_st(out, o + i, (act_ld(x, o + i) * r) * W::elem(g, i));
    }
}

// ew_range returns this block's element range [lo, hi) of a row of n.
KFN void ew_range(int n, int& lo, int& hi) {
    const int span = blockDim.x * EW_PER;
    lo = blockIdx.y * span;
    hi = min(n, lo + span);
}

// ew_chunks returns this block's chunk range of a row of n quantized
// weights (n/8 chunks).
KFN void ew_chunks(int n, int& lo, int& hi) {
    const int span = (blockDim.x * EW_PER) >> 3;
    lo = blockIdx.y * span;
    hi = min(n >> 3, lo + span);
}

template <class W, class TI, class TO>
KFN void add_bias(TO* out, const TI* x, const u8* bias, int n) {
    const u64 o = (u64)blockIdx.x * n;
    int lo, hi;
    if (W::QUANT) {
        ew_chunks(n, lo, hi);
        for (int c = lo + threadIdx.x; c < hi; c += blockDim.x) {
            float wv[8];
            int a, b;
            W::decode(W::load(bias, c), c, wv, a, b);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                act_st(out, o + a + i, act_ld(x, o + a + i) + wv[i]);
                act_st(out, o + b + i, act_ld(x, o + b + i) + wv[4 + i]);
            }
        }
    } else {
        ew_range(n, lo, hi);
        for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) act_st(out, o + i, act_ld(x, o + i) + W::elem(bias, i));
    }
}

template <class TI, class TO>
KFN void add(TO* out, const TI* a, const TI* b, int n) {
    const u64 o = (u64)blockIdx.x * n;
    int lo, hi;
    ew_range(n, lo, hi);
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) act_st(out, o + i, act_ld(a, o + i) + act_ld(b, o + i));
}

// swiglu: silu(g)·u with silu(g) = g/(1 + expf(−g)).
template <class TI, class TO>
KFN void swiglu(TO* out, const TI* gate, const TI* up, int n) {
    const u64 o = (u64)blockIdx.x * n;
    int lo, hi;
    ew_range(n, lo, hi);
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        const float g = act_ld(gate, o + i);
        act_st(out, o + i, g / (1.0f + expf(-g)) * act_ld(up, o + i));
    }
}

// copy_rows: dst[p+r, :] = src[r, :], p read from device memory (pos[0]).
template <class TI, class TO>
KFN void copy_rows(TO* dst, const TI* src, int n, const int* pos) {
    const u64 r = blockIdx.x;
    const u64 so = r * n, dof = ((u64)pos[0] + r) * n;
    int lo, hi;
    ew_range(n, lo, hi);
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) act_st(dst, dof + i, act_ld(src, so + i));
}

// embed: out[t, :] = W[ids[t], :] (ids in range: callers check).
template <class W, class TO>
KFN void embed(TO* out, const u8* w, const int* ids, int d) {
    const u64 o = (u64)blockIdx.x * d;
    const u8* row = w + (u64)ids[blockIdx.x] * ((u64)(d / W::BS) * W::BB);
    int lo, hi;
    if (W::QUANT) {
        ew_chunks(d, lo, hi);
        for (int c = lo + threadIdx.x; c < hi; c += blockDim.x) {
            float wv[8];
            int a, b;
            W::decode(W::load(row, c), c, wv, a, b);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                act_st(out, o + a + i, wv[i]);
                act_st(out, o + b + i, wv[4 + i]);
            }
        }
    } else {
        ew_range(d, lo, hi);
        for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) act_st(out, o + i, W::elem(row, i));
    }
}
