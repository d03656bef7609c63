// matmul.cu — OpMatMul: out[t,n] = Σ_k W[n,k]·x[t,k], W of any weight
// type (weights.cu), x and out f32 or f16. One entry serves both shapes;
// the branch on T is uniform and Shape() in Go launches to match.
//
// T = 1 (decode, GEMV): a warp per output row, MM_GEMV_WARPS rows per
// block (grid.x = ceil(N / MM_GEMV_WARPS)). Lane l reads chunks l, l+32, …
// of its row, so a warp's loads are adjacent (16-byte uint4 loads for F16
// and BF16, two float4 for F32, 2–4-byte loads of the quantized blocks,
// decoded in registers); MM_GEMV_UNROLL chunks per lane are loaded before
// any is used, to keep that many loads in flight. x (K floats, shared by
// every row) comes through L1/L2 with float4 (f32) or 8-byte (f16) loads.
// Each lane sums its products in chunk order with fmaf, then the warp's
// xor butterfly adds the lanes: a fixed order. Bytes moved ≈ the weight
// matrix once (N·K/BS·BB) + x per block from L2 + 4N (or 2N) of output, so
// the kernel is bound by weight bandwidth: 1.6 MB for K = N = 896 F16,
// 8.7 MB for 896→4864, 272 MB for the 151936-row LM head.
//
// T > 1 (prompts, GEMM): a warp computes MM_GEMM_ROWS rows × MM_GEMM_COLS
// token rows; a block MM_GEMM_WARPS such warps (grid = (ceil(N /
// (MM_GEMM_WARPS·MM_GEMM_ROWS)), ceil(T / MM_GEMM_COLS))). Each chunk of W
// is decoded once per block and used for MM_GEMM_COLS rows of x (read from
// L1/L2), so W is read ceil(T / MM_GEMM_COLS) times, from L2 after the
// first. Accumulators: MM_GEMM_ROWS·MM_GEMM_COLS floats per lane. Any T.
//
// F32/F16/BF16 rows that are not 16-byte aligned or K not a multiple of 8
// take the element path (lane l reads elements l, l+32, …). Quantized rows
// need K a multiple of the block size (callers check).

template <class W, class TI, class TO>
KFN void mm_gemv(TO* __restrict__ out, const TI* __restrict__ x, const u8* __restrict__ w, int K, int N) {
    const int lane = threadIdx.x & 31;
    const int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (n >= N) return; // whole warps only: no barrier follows
    const u64 rb = (u64)(K / W::BS) * W::BB;
    const u8* row = w + (u64)n * rb;
    float acc = 0.0f;
    if (W::QUANT || ((K & 7) == 0 && aligned(w, 16))) {
        const bool xv = act_vec(x);
        const int nc = K >> 3;
        for (int c0 = lane; c0 < nc; c0 += 32 * MM_GEMV_UNROLL) {
            typename W::raw r[MM_GEMV_UNROLL];
#pragma unroll
            for (int u = 0; u < MM_GEMV_UNROLL; u++) {
                const int c = c0 + 32 * u;
                if (c < nc) r[u] = W::load(row, c);
            }
#pragma unroll
            for (int u = 0; u < MM_GEMV_UNROLL; u++) {
                const int c = c0 + 32 * u;
                if (c < nc) {
                    float wv[8], xs[8];
                    int a, b;
                    W::decode(r[u], c, wv, a, b);
                    act_ld4(x, a, xv, xs);
                    act_ld4(x, b, xv, xs + 4);
#pragma unroll
                    for (int i = 0; i < 8; i++) acc = fmaf(wv[i], xs[i], acc);
                }
            }
        }
    } else {
        for (int i = lane; i < K; i += 32) acc = fmaf(W::elem(row, i), act_ld(x, i), acc);
    }
    acc = warp_sum(acc);
    if (lane == 0) act_st(out, n, acc);
}

template <class W, class TI, class TO>
KFN void mm_gemm(TO* __restrict__ out, const TI* __restrict__ x, const u8* __restrict__ w, int K, int N, int T) {
    constexpr int R = MM_GEMM_ROWS, TT = MM_GEMM_COLS;
    const int lane = threadIdx.x & 31;
    const int n0 = (blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * R;
    if (n0 >= N) return; // whole warps only: no barrier follows
    const int t0 = blockIdx.y * TT;
    const int nt = min(TT, T - t0);
    const u64 rb = (u64)(K / W::BS) * W::BB;
    const u8* rows[R];
#pragma unroll
    for (int r = 0; r < R; r++) rows[r] = w + (u64)min(n0 + r, N - 1) * rb; // rows past N: computed, not stored
    float acc[R][TT];
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int t = 0; t < TT; t++) acc[r][t] = 0.0f;
    }
    if (W::QUANT || ((K & 7) == 0 && aligned(w, 16))) {
        const bool xv = act_vec(x);
        const int nc = K >> 3;
        for (int c = lane; c < nc; c += 32) {
            float wv[R][8];
            int a = 0, b = 0;
#pragma unroll
            for (int r = 0; r < R; r++) {
                const typename W::raw q = W::load(rows[r], c);
                W::decode(q, c, wv[r], a, b);
            }
#pragma unroll
            for (int t = 0; t < TT; t++) {
                if (t < nt) {
                    const TI* xt = x + (u64)(t0 + t) * K;
                    float xs[8];
                    act_ld4(xt, a, xv, xs);
                    act_ld4(xt, b, xv, xs + 4);
#pragma unroll
                    for (int r = 0; r < R; r++) {
#pragma unroll
                        for (int i = 0; i < 8; i++) acc[r][t] = fmaf(wv[r][i], xs[i], acc[r][t]);
                    }
                }
            }
        }
    } else {
        for (int k = lane; k < K; k += 32) {
            float wv[R];
#pragma unroll
            for (int r = 0; r < R; r++) wv[r] = W::elem(rows[r], k);
#pragma unroll
            for (int t = 0; t < TT; t++) {
                if (t < nt) {
                    const float xs = act_ld(x, (u64)(t0 + t) * K + k);
#pragma unroll
                    for (int r = 0; r < R; r++) acc[r][t] = fmaf(wv[r], xs, acc[r][t]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int t = 0; t < TT; t++) {
            const float s = warp_sum(acc[r][t]);
            if (lane == 0 && n0 + r < N && t < nt) act_st(out, (u64)(t0 + t) * N + n0 + r, s);
        }
    }
}

template <class W, class TI, class TO>
KFN void matmul(TO* __restrict__ out, const TI* __restrict__ x, const u8* __restrict__ w, int K, int N, int T) {
    if (T == 1) {
        mm_gemv<W, TI, TO>(out, x, w, K, N);
    } else {
        mm_gemm<W, TI, TO>(out, x, w, K, N, T);
    }
}
