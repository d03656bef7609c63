// matmul.metal — OpMatMul: out[t,n] = Σ_k W[n,k]·x[t,k], W of any weight
// type (weights.metal), x and out f32 or f16. One entry serves both
// shapes; the branch on T is uniform and Shape in Go launches to match.
// Buffers: out 0, x 1, w 2.
//
// T = 1 (decode, GEMV): a SIMD group per output row, MM_GEMV_SIMDS rows
// per threadgroup (grid.x = ceil(N / MM_GEMV_SIMDS)). Lane l reads chunks
// l, l+32, … of its row, so a SIMD group's loads are adjacent (16-byte
// uint4 loads for F16 and BF16, two float4 for F32, 2–4-byte loads of the
// quantized blocks, decoded in registers); MM_GEMV_UNROLL chunks per lane
// are loaded before any is used, to keep that many loads in flight. x (K
// values, shared by every row) comes through the cache with float4 (f32)
// or 8-byte (f16) loads. Each lane sums its products in chunk order with
// fma, then the SIMD group's xor butterfly adds the lanes: a fixed order.
// Bytes moved ≈ the weight matrix once (N·K/BS·BB) + x per threadgroup
// from the cache + N outputs, so the kernel is bound by weight bandwidth.
//
// T > 1 (prompts, GEMM): a SIMD group computes MM_GEMM_ROWS rows ×
// MM_GEMM_COLS token rows; a threadgroup MM_GEMM_SIMDS such SIMD groups
// (grid = (ceil(N / (MM_GEMM_SIMDS·MM_GEMM_ROWS)), ceil(T /
// MM_GEMM_COLS))). Each chunk of W is decoded once per SIMD group and used
// for MM_GEMM_COLS rows of x, so W is read ceil(T / MM_GEMM_COLS) times,
// from the cache after the first. Accumulators: MM_GEMM_ROWS·MM_GEMM_COLS
// floats per lane. Any T.
//
// F32/F16/BF16 rows that are not 16-byte aligned or K not a multiple of 8
// take the element path (lane l reads elements l, l+32, …). Quantized rows
// need K a multiple of the block size (callers check). No threadgroup
// memory, no barrier: a SIMD group past N returns at once.

struct MatMulArgs {
    int K;
    int N;
    int T;
    uint al;
};

template <class W, class TI, class TO>
inline void mm_gemv(device TO* out, device const TI* x, device const uchar* w, int K, int N, uint al, Grp g) {
    const uint lane = g.tid & 31u;
    const int n = int(g.tg.x * (g.nt >> 5) + (g.tid >> 5));
    if (n >= N) return; // whole SIMD groups only: no barrier follows
    const ulong rb = ulong(K / W::BS) * W::BB;
    device const uchar* row = w + ulong(n) * rb;
    const uint wm = (amod(al, 2) + uint(ulong(n) * rb)) & 15u;
    float acc = 0.0f;
    if (W::QUANT || ((K & 7) == 0 && wm == 0u)) {
        const bool xv = act_vec_ok(x, amod(al, 1));
        const bool a4 = (wm & 3u) == 0u;
        const int nc = K >> 3;
        for (int c0 = int(lane); c0 < nc; c0 += 32 * MM_GEMV_UNROLL) {
            typename W::raw r[MM_GEMV_UNROLL];
            for (int u = 0; u < MM_GEMV_UNROLL; u++) {
                const int c = c0 + 32 * u;
                if (c < nc) r[u] = W::load(row, c, a4);
            }
            for (int u = 0; u < MM_GEMV_UNROLL; u++) {
                const int c = c0 + 32 * u;
                if (c < nc) {
                    float wv[8], xs[8];
                    int a, b;
                    W::decode(r[u], c, wv, a, b);
                    act_ld4(x, ulong(a), xv, xs);
                    act_ld4(x, ulong(b), xv, xs + 4);
                    for (int i = 0; i < 8; i++) acc = fma(wv[i], xs[i], acc);
                }
            }
        }
    } else {
        for (int i = int(lane); i < K; i += 32) acc = fma(W::elem(row, i), act_ld(x, ulong(i)), acc);
    }
    acc = simd_sum32(acc);
    if (lane == 0u) act_st(out, ulong(n), acc);
}

template <class W, class TI, class TO>
inline void mm_gemm(device TO* out, device const TI* x, device const uchar* w, int K, int N, int T, uint al, Grp g) {
    const uint lane = g.tid & 31u;
    const int n0 = int(g.tg.x * (g.nt >> 5) + (g.tid >> 5)) * MM_GEMM_ROWS;
    if (n0 >= N) return; // whole SIMD groups only: no barrier follows
    const int t0 = int(g.tg.y) * MM_GEMM_COLS;
    const int nt = min(MM_GEMM_COLS, T - t0);
    const ulong rb = ulong(K / W::BS) * W::BB;
    device const uchar* rows[MM_GEMM_ROWS];
    bool a4[MM_GEMM_ROWS];
    for (int r = 0; r < MM_GEMM_ROWS; r++) {
        const ulong o = ulong(min(n0 + r, N - 1)) * rb; // rows past N: computed, not stored
        rows[r] = w + o;
        a4[r] = ((amod(al, 2) + uint(o)) & 3u) == 0u;
    }
    float acc[MM_GEMM_ROWS][MM_GEMM_COLS];
    for (int r = 0; r < MM_GEMM_ROWS; r++) {
        for (int t = 0; t < MM_GEMM_COLS; t++) acc[r][t] = 0.0f;
    }
    if (W::QUANT || ((K & 7) == 0 && amod(al, 2) == 0u)) {
        const bool xv = act_vec_ok(x, amod(al, 1));
        const int nc = K >> 3;
        for (int c = int(lane); c < nc; c += 32) {
            float wv[MM_GEMM_ROWS][8];
            int a = 0, b = 0;
            for (int r = 0; r < MM_GEMM_ROWS; r++) {
                const typename W::raw q = W::load(rows[r], c, a4[r]);
                W::decode(q, c, wv[r], a, b);
            }
            for (int t = 0; t < MM_GEMM_COLS; t++) {
                if (t < nt) {
                    device const TI* xt = x + ulong(t0 + t) * ulong(K);
                    float xs[8];
                    act_ld4(xt, ulong(a), xv, xs);
                    act_ld4(xt, ulong(b), xv, xs + 4);
                    for (int r = 0; r < MM_GEMM_ROWS; r++) {
                        for (int i = 0; i < 8; i++) acc[r][t] = fma(wv[r][i], xs[i], acc[r][t]);
                    }
                }
            }
        }
    } else {
        for (int k = int(lane); k < K; k += 32) {
            float wv[MM_GEMM_ROWS];
            for (int r = 0; r < MM_GEMM_ROWS; r++) wv[r] = W::elem(rows[r], k);
            for (int t = 0; t < MM_GEMM_COLS; t++) {
                if (t < nt) {
                    const float xs = act_ld(x, ulong(t0 + t) * ulong(K) + ulong(k));
                    for (int r = 0; r < MM_GEMM_ROWS; r++) acc[r][t] = fma(wv[r], xs, acc[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < MM_GEMM_ROWS; r++) {
        for (int t = 0; t < MM_GEMM_COLS; t++) {
            const float s = simd_sum32(acc[r][t]);
            if (lane == 0u && n0 + r < N && t < nt) act_st(out, ulong(t0 + t) * ulong(N) + ulong(n0 + r), s);
        }
    }
}

template <class W, class TI, class TO>
inline void matmul(device TO* out, device const TI* x, device const uchar* w, constant MatMulArgs& p, Grp g) {
    if (p.T == 1) {
        mm_gemv<W, TI, TO>(out, x, w, p.K, p.N, p.al, g);
    } else {
        mm_gemm<W, TI, TO>(out, x, w, p.K, p.N, p.T, p.al, g);
    }
}
