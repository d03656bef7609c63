// attention.metal — OpAttention: causal grouped-query attention over the
// KV cache with an online (flash-style) softmax, allowed by the plain
// contract. A threadgroup per (t, head) item (grid.x = T·heads) of
// AT_SIMDS SIMD groups; the query row is staged in threadgroup memory as
// float. Buffers: out 0, q 1, k cache 2, v cache 3, pos 4.
//
// SIMD group w takes key tiles j0 = 32w, 32(w + AT_SIMDS), … of the causal
// range j ≤ pos0 + t (any length: nothing is sized by the context). In a
// tile, lane l owns key j0 + l: s = scale·(q·k_j) (its own dot over hd,
// float4 or 8-byte f16 loads of the key row, all issued before the fmas
// use them); the SIMD group's max m and rescale α = exp(m_old − m_new)
// update the running max, p = exp(s − m_new), and l = l·α + Σp. Then the
// lanes own dims d = lane + 32i (i < DPL) and add p_j·v[j, d] for the
// tile's keys in key order, AT_KBATCH keys' value loads in flight at a
// time (p_j broadcast by simd_shuffle; coalesced value rows). At the end
// the SIMD groups' (m, l, acc) are combined in index order through
// threadgroup memory: out = Σ_w acc_w·e^(m_w−M) / Σ_w l_w·e^(m_w−M).
// Every order is fixed by the launch shape; exp is precise::exp.
//
// DPL (dims per lane: 2, 4 or 8) is a template parameter picked by a
// uniform branch on hd, so registers follow the head dim. hd ≤ AT_MAXHD
// (larger head dims write NaN rather than run out of registers). Moves the
// query, (pos0+t+1)·hd keys and values of its kv head (the heads/kvHeads
// query heads of a group re-read them from the cache), and one output row.
// Dynamic threadgroup memory (the backend sizes it from hd): q[hd],
// m[AT_SIMDS], l[AT_SIMDS], acc[AT_SIMDS][hd] floats.

struct AttentionArgs {
    int heads;
    int kvh;
    int hd;
    float scale;
    uint al;
};

template <int DPL, class TK, class TO>
inline void attention_dpl(device TO* out, device const TK* kb, device const TK* vb, int hd, int n, ulong kvd, float scale,
                          ulong qo, bool kv4, threadgroup float* sq, threadgroup float* sm, threadgroup float* sl,
                          threadgroup float* sacc, Grp g) {
    const uint lane = g.tid & 31u, sg = g.tid >> 5;
    float m = neg_inf(), l = 0.0f;
    float acc[DPL];
    for (int i = 0; i < DPL; i++) acc[i] = 0.0f;
    for (int j0 = 32 * int(sg); j0 < n; j0 += 32 * AT_SIMDS) {
        const int j = j0 + int(lane);
        float s = neg_inf();
        if (j < n) {
            device const TK* kr = kb + ulong(j) * kvd;
            float dot = 0.0f;
            if (kv4) {
                // 32 elements' loads in flight, then their fmas.
                for (int d0 = 0; d0 < 32 * DPL; d0 += 32) {
                    if (d0 < hd) {
                        float kv[32];
                        for (int d = 0; d < 32; d += 4) {
                            if (d0 + d < hd) act_ld4(kr, ulong(d0 + d), true, kv + d);
                        }
                        for (int d = 0; d < 32; d++) {
                            if (d0 + d < hd) dot = fma(sq[d0 + d], kv[d], dot);
                        }
                    }
                }
            } else {
                for (int d = 0; d < hd; d++) dot = fma(sq[d], act_ld(kr, ulong(d)), dot);
            }
            s = scale * dot;
        }
        const float mn = fmax(m, simd_max32(s)); // finite: lane 0's key is in range
        const float alpha = precise::exp(m - mn); // 0 on the first tile (m = −inf)
        const float pj = j < n ? precise::exp(s - mn) : 0.0f;
        l = l * alpha + simd_sum32(pj);
        m = mn;
        for (int i = 0; i < DPL; i++) acc[i] *= alpha;
        const int cnt = min(32, n - j0);
        for (int b0 = 0; b0 < cnt; b0 += AT_KBATCH) {
            float v[AT_KBATCH][DPL];
            for (int b = 0; b < AT_KBATCH; b++) {
                device const TK* vr = vb + ulong(j0 + b0 + b) * kvd;
                for (int i = 0; i < DPL; i++) {
                    const int d = int(lane) + 32 * i;
                    v[b][i] = (b0 + b < cnt && d < hd) ? act_ld(vr, ulong(d)) : 0.0f;
                }
            }
            for (int b = 0; b < AT_KBATCH; b++) {
                const float pb = simd_shuffle(pj, ushort((b0 + b) & 31)); // past cnt v is 0
                for (int i = 0; i < DPL; i++) acc[i] = fma(pb, v[b][i], acc[i]);
            }
        }
    }
    if (lane == 0u) {
        sm[sg] = m;
        sl[sg] = l;
    }
    for (int i = 0; i < DPL; i++) {
        const int d = int(lane) + 32 * i;
        if (d < hd) sacc[int(sg) * hd + d] = acc[i];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float M = neg_inf();
    for (int w = 0; w < AT_SIMDS; w++) M = fmax(M, sm[w]);
    float L = 0.0f;
    for (int w = 0; w < AT_SIMDS; w++) {
        if (sm[w] != neg_inf()) L += sl[w] * precise::exp(sm[w] - M);
    }
    for (int d = int(g.tid); d < hd; d += int(g.nt)) {
        float o = 0.0f;
        for (int w = 0; w < AT_SIMDS; w++) {
            if (sm[w] != neg_inf()) o += sacc[w * hd + d] * precise::exp(sm[w] - M);
        }
        act_st(out, qo + ulong(d), o / L);
    }
}

template <class TI, class TK, class TO>
inline void attention(device TO* out, device const TI* q, device const TK* kc, device const TK* vc, device const int* pos,
                      constant AttentionArgs& p, Grp g, threadgroup float* tgm) {
    const int item = int(g.tg.x);
    const int t = item / p.heads, h = item % p.heads;
    const int grp = h / (p.heads / p.kvh);
    const int hd = p.hd;
    const ulong qo = ulong(item) * ulong(hd);
    if (hd > AT_MAXHD || g.nt != 32u * AT_SIMDS) {
        for (int d = int(g.tid); d < hd; d += int(g.nt)) act_st(out, qo + ulong(d), nan_f32());
        return;
    }
    threadgroup float* sq = tgm;
    threadgroup float* sm = tgm + hd;
    threadgroup float* sl = sm + AT_SIMDS;
    threadgroup float* sacc = sl + AT_SIMDS;
    const int n = pos[0] + t + 1; // keys 0 … pos0+t
    const ulong kvd = ulong(p.kvh) * ulong(hd);
    for (int d = int(g.tid); d < hd; d += int(g.nt)) sq[d] = act_ld(q, qo + ulong(d));
    threadgroup_barrier(mem_flags::mem_threadgroup);
    device const TK* kb = kc + ulong(grp) * ulong(hd);
    device const TK* vb = vc + ulong(grp) * ulong(hd);
    // Vector key loads need every key row aligned: hd and kvh·hd multiples
    // of 4 elements and the cache's address aligned.
    const bool kv4 = (hd & 3) == 0 && act_vec_ok(kc, amod(p.al, 2));
    if (hd <= 64) {
        attention_dpl<2, TK, TO>(out, kb, vb, hd, n, kvd, p.scale, qo, kv4, sq, sm, sl, sacc, g);
    } else if (hd <= 128) {
        attention_dpl<4, TK, TO>(out, kb, vb, hd, n, kvd, p.scale, qo, kv4, sq, sm, sl, sacc, g);
    } else {
        attention_dpl<AT_MAXHD / 32, TK, TO>(out, kb, vb, hd, n, kvd, p.scale, qo, kv4, sq, sm, sl, sacc, g);
    }
}
