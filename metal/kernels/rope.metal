// rope.metal — OpRope: a threadgroup per (t, head) item (grid.x =
// T·heads), one thread per rotated pair (threads = the pairs rounded up to
// a SIMD group, at most RP_THREADS; threads loop when there are more).
// Pairs (2i, 2i+1) for style 0 (normal), (i, i + ropeDim/2) for style 1
// (NeoX); dims ≥ ropeDim are copied. Plain: inv = precise::pow(base,
// −2i/ropeDim) in float32, θ = float32(pos)·inv, precise::cos and
// precise::sin (accurate for large angles too). Each pair is read and
// written by one thread, so out may equal x. Moves one read and one write
// of the head. Buffers: out 0, x 1, pos 2.

struct RopeArgs {
    int heads;
    int hd;
    int rd;
    float base;
    int style;
    uint al;
};

template <class TI, class TO>
inline void rope(device TO* out, device const TI* x, device const int* pos, constant RopeArgs& p, Grp g) {
    const int item = int(g.tg.x);
    const int hd = p.hd;
    const ulong o = ulong(item) * ulong(hd);
    const float ps = float(pos[0] + item / p.heads);
    const int half_rd = p.rd >> 1;
    for (int i = int(g.tid); i < half_rd; i += int(g.nt)) {
        const float inv = precise::pow(p.base, float(-2 * i) / float(p.rd));
        const float th = ps * inv;
        const float c = precise::cos(th), s = precise::sin(th);
        const int j = p.style == 0 ? 2 * i : i;
        const int k = p.style == 0 ? 2 * i + 1 : i + half_rd;
        const float xj = act_ld(x, o + ulong(j)), xk = act_ld(x, o + ulong(k));
        act_st(out, o + ulong(j), xj * c - xk * s);
        act_st(out, o + ulong(k), xj * s + xk * c);
    }
    for (int d = p.rd + int(g.tid); d < hd; d += int(g.nt)) act_st(out, o + ulong(d), act_ld(x, o + ulong(d)));
}
