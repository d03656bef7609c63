// attention.cu — OpAttention: causal grouped-query attention over the KV
// cache with an online (flash-style) softmax, allowed by the plain
// contract. A block per (t, head) item (grid.x = T·heads) of AT_WARPS
// warps; the query row is staged in shared memory as float.
//
// Warp w takes key tiles j0 = 32w, 32(w + AT_WARPS), … of the causal range
// j ≤ pos0 + t (any length: nothing is sized by the context). In a tile,
// lane l owns key j0 + l: s = scale·(q·k_j) (its own dot over hd, float4
// or 8-byte f16 loads of the key row, all issued before the FMAs use
// them); the warp's max m and rescale α = expf(m_old − m_new) update the
// running max, p = expf(s − m_new), and l = l·α + Σp. Then the lanes own
// dims d = lane + 32i (i < DPL) and add p_j·v[j, d] for the tile's keys in
// key order, AT_KBATCH keys' value loads in flight at a time (the whole
// tile's for head dims ≤ 64; p_j broadcast by shuffle; coalesced value
// rows). At the end the warps'
// (m, l, acc) are combined in warp order through shared memory:
// out = Σ_w acc_w·e^(m_w−M) / Σ_w l_w·e^(m_w−M). Every order is fixed by
// the launch shape.
//
// DPL (dims per lane: 2, 4 or 8) is a template parameter picked by a
// uniform branch on hd, so registers follow the head dim. hd ≤ AT_MAXHD
// (larger head dims write NaN rather than run out of registers). Moves the
// query, (pos0+t+1)·hd keys and values of its kv head (the heads/kvHeads
// query heads of a group re-read them from L2), and one output row.
// Static shared memory: (AT_MAXHD·(AT_WARPS+1) + 2·AT_WARPS)·4 bytes.

template <int DPL, class TI, class TK, class TO>
KFN void attention_dpl(TO* out, const TK* kb, const TK* vb, int hd, int n, u64 kvd, float scale, u64 qo, const float* sq,
                       float* sm, float* sl, float (*sacc)[AT_MAXHD]) {
    constexpr int HDM = 32 * DPL; // the largest head dim of this instantiation
    // Value loads in flight per lane: a whole tile's for head dims ≤ 64,
    // 64 registers of values at most.
    constexpr int AT_KBATCH = DPL <= 2 ? 32 : 64 / DPL;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    // Vector key loads need every key row aligned: hd and kvh·hd multiples
    // of 4 elements and the cache base aligned.
    const bool kv4 = (hd & 3) == 0 && act_vec(kb);
    float m = neg_inf(), l = 0.0f;
    float acc[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) acc[i] = 0.0f;
    for (int j0 = 32 * warp; j0 < n; j0 += 32 * AT_WARPS) {
        const int j = j0 + lane;
        float s = neg_inf();
        if (j < n) {
            const TK* kr = kb + (u64)j * kvd;
            float dot = 0.0f;
            if (kv4) {
                // 32 elements' loads in flight, then their FMAs.
#pragma unroll
                for (int d0 = 0; d0 < HDM; d0 += 32) {
                    if (d0 < hd) {
                        float kv[32];
#pragma unroll
                        for (int d = 0; d < 32; d += 4) {
                            if (d0 + d < hd) act_ld4(kr, d0 + d, true, kv + d);
                        }
#pragma unroll
                        for (int d = 0; d < 32; d++) {
                            if (d0 + d < hd) dot = fmaf(sq[d0 + d], kv[d], dot);
                        }
                    }
                }
            } else {
                for (int d = 0; d < hd; d++) dot = fmaf(sq[d], act_ld(kr, d), dot);
            }
            s = scale * dot;
        }
        const float mn = fmaxf(m, warp_max(s)); // finite: lane 0's key is in range
        const float alpha = expf(m - mn);        // 0 on the first tile (m = −inf)
        const float p = j < n ? expf(s - mn) : 0.0f;
        l = l * alpha + warp_sum(p);
        m = mn;
#pragma unroll
        for (int i = 0; i < DPL; i++) acc[i] *= alpha;
        const int cnt = min(32, n - j0);
        for (int b0 = 0; b0 < cnt; b0 += AT_KBATCH) {
            float v[AT_KBATCH][DPL];
#pragma unroll
            for (int b = 0; b < AT_KBATCH; b++) {
                const TK* vr = vb + (u64)(j0 + b0 + b) * kvd;
#pragma unroll
                for (int i = 0; i < DPL; i++) {
                    const int d = lane + 32 * i;
                    v[b][i] = (b0 + b < cnt && d < hd) ? act_ld(vr, d) : 0.0f;
                }
            }
#pragma unroll
            for (int b = 0; b < AT_KBATCH; b++) {
                const float pj = __shfl_sync(0xffffffffu, p, (b0 + b) & 31); // past cnt v is 0
#pragma unroll
                for (int i = 0; i < DPL; i++) acc[i] = fmaf(pj, v[b][i], acc[i]);
            }
        }
    }
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < DPL; i++) {
        const int d = lane + 32 * i;
        if (d < hd) sacc[warp][d] = acc[i];
    }
    __syncthreads();
    float M = neg_inf();
    for (int w = 0; w < AT_WARPS; w++) M = fmaxf(M, sm[w]);
    float L = 0.0f;
    for (int w = 0; w < AT_WARPS; w++) {
        if (sm[w] != neg_inf()) L += sl[w] * expf(sm[w] - M);
    }
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < AT_WARPS; w++) {
            if (sm[w] != neg_inf()) o += sacc[w][d] * expf(sm[w] - M);
        }
        act_st(out, qo + d, o / L);
    }
}

template <class TI, class TK, class TO>
KFN void attention(TO* out, const TI* q, const TK* kc, const TK* vc, int heads, int kvh, int hd, const int* pos, float scale) {
    __shared__ float sq[AT_MAXHD];
    __shared__ float sm[AT_WARPS], sl[AT_WARPS];
    __shared__ float sacc[AT_WARPS][AT_MAXHD];
    const int item = blockIdx.x;
    const int t = item / heads, h = item % heads;
    const int g = h / (heads / kvh);
    const u64 qo = (u64)item * hd;
    if (hd > AT_MAXHD || (int)blockDim.x != 32 * AT_WARPS) {
        for (int d = threadIdx.x; d < hd; d += blockDim.x) act_st(out, qo + d, nan_f32());
        return;
    }
    const int n = pos[0] + t + 1; // keys 0 … pos0+t
    const u64 kvd = (u64)kvh * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) sq[d] = act_ld(q, qo + d);
    __syncthreads();
    const TK* kb = kc + (u64)g * hd;
    const TK* vb = vc + (u64)g * hd;
    if (hd <= 64) {
        attention_dpl<2, TI, TK, TO>(out, kb, vb, hd, n, kvd, scale, qo, sq, sm, sl, sacc);
    } else if (hd <= 128) {
        attention_dpl<4, TI, TK, TO>(out, kb, vb, hd, n, kvd, scale, qo, sq, sm, sl, sacc);
    } else {
        attention_dpl<AT_MAXHD / 32, TI, TK, TO>(out, kb, vb, hd, n, kvd, scale, qo, sq, sm, sl, sacc);
    }
}
