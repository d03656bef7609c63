// rope.cu — OpRope: a block per (t, head) item (grid.x = T·heads), one
// thread per rotated pair (blockDim = the pairs rounded up to a warp, at
// most RP_THREADS; threads loop when there are more). Pairs (2i, 2i+1) for
// style 0 (normal), (i, i + ropeDim/2) for style 1 (NeoX); dims ≥ ropeDim
// are copied. Plain: inv = powf(base, −2i/ropeDim) in float32, θ =
// float32(pos)·inv, accurate cosf/sinf (their slow path keeps large angles
// within 2 ulp). Each pair is read and written by one thread, so out may
// equal x. Moves one read and one write of the head.

template <class TI, class TO>
KFN void rope(TO* out, const TI* x, int heads, int hd, int rd, const int* pos, float base, int style) {
    const int item = blockIdx.x;
    const u64 o = (u64)item * hd;
    const float p = (float)(pos[0] + item / heads);
    const int half = rd >> 1;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const float inv = powf(base, (float)(-2 * i) / (float)rd);
        const float th = p * inv;
        const float c = cosf(th), s = sinf(th);
        const int j = style == 0 ? 2 * i : i;
        const int k = style == 0 ? 2 * i + 1 : i + half;
        const float xj = act_ld(x, o + j), xk = act_ld(x, o + k);
        act_st(out, o + j, xj * c - xk * s);
        act_st(out, o + k, xj * s + xk * c);
    }
    for (int d = rd + threadIdx.x; d < hd; d += blockDim.x) act_st(out, o + d, act_ld(x, o + d));
}
