// ggml_fattn_oracle runs ggml's own CPU flash attention (GGML_OP_FLASH_ATTN_EXT
// through ggml_graph_compute_with_ctx of the libggml-cpu variant llama.cpp's
// loader picks: the highest ggml_backend_score in DIR) for backend/ggmlnum's
// tests. Prototypes are declared here so no llama.cpp headers are needed.
//
//   ggml_fattn_oracle DIR DK DV T HEADS KVHEADS CELLS POS0 KV THREADS SCALE < in > out
//
// in:  q [T][HEADS][DK], then k [CELLS][KVHEADS][DK], then v
//      [CELLS][KVHEADS][DV], float32 (k and v are rounded to f16 by ggml's
//      row converter when KV is f16). The mask is causal from POS0: query
//      t sees cells 0..POS0+t (0), the rest is -inf, as llama.cpp builds it.
// out: the op's result, [T][HEADS][DV] float32. SCALE (the scores' factor)
// is given as a C float literal, e.g. 0x1.6a09e6p-3.
#include <dirent.h>
#include <dlfcn.h>
#include <math.h> // INFINITY only: the program does not link libm
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ggml_init_params { size_t mem_size; void *mem_buffer; bool no_alloc; };
struct ggml_context;
struct ggml_tensor;
struct ggml_cgraph;

struct ggml_context *ggml_init(struct ggml_init_params params);
void ggml_free(struct ggml_context *ctx);
struct ggml_tensor *ggml_new_tensor_4d(struct ggml_context *ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3);
void *ggml_get_data(const struct ggml_tensor *t);
struct ggml_tensor *ggml_flash_attn_ext(struct ggml_context *ctx, struct ggml_tensor *q, struct ggml_tensor *k,
                                        struct ggml_tensor *v, struct ggml_tensor *mask, float scale, float max_bias,
                                        float logit_softcap);
void ggml_flash_attn_ext_set_prec(struct ggml_tensor *a, int prec);
struct ggml_cgraph *ggml_new_graph(struct ggml_context *ctx);
void ggml_build_forward_expand(struct ggml_cgraph *g, struct ggml_tensor *t);
void ggml_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);

enum { T_F32 = 0, T_F16 = 1, PREC_F32 = 10 };

static void *best;

static void pick(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); exit(2); }
    int bestScore = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "libggml-cpu-", 12) != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        int (*score)(void) = (int (*)(void))dlsym(h, "ggml_backend_score");
        int s = score ? score() : 0;
        if (s > bestScore) { bestScore = s; best = h; }
    }
    closedir(d);
    if (!best || bestScore <= 0) { fprintf(stderr, "no usable libggml-cpu variant in %s\n", dir); exit(2); }
}

static void readf(float *p, size_t n) {
    if (fread(p, 4, n, stdin) != n) { fprintf(stderr, "short input\n"); exit(2); }
}

int main(int argc, char **argv) {
    if (argc != 12) {
        fprintf(stderr, "usage: ggml_fattn_oracle DIR DK DV T HEADS KVHEADS CELLS POS0 f16|f32 THREADS SCALE\n");
        return 2;
    }
    pick(argv[1]);
    long dk = atol(argv[2]), dv = atol(argv[3]), T = atol(argv[4]), heads = atol(argv[5]), kvh = atol(argv[6]);
    long cells = atol(argv[7]), pos0 = atol(argv[8]), threads = atol(argv[10]);
    float scale = strtof(argv[11], NULL);
    int kvt = strcmp(argv[9], "f16") == 0 ? T_F16 : T_F32;
    void (*cpu_init)(void) = (void (*)(void))dlsym(best, "ggml_cpu_init");
    int (*compute)(struct ggml_context *, struct ggml_cgraph *, int) =
        (int (*)(struct ggml_context *, struct ggml_cgraph *, int))dlsym(best, "ggml_graph_compute_with_ctx");
    if (!cpu_init || !compute) { fprintf(stderr, "missing ggml_cpu symbols\n"); return 2; }
    cpu_init();

    size_t nq = (size_t)T * heads * dk, nk = (size_t)cells * kvh * dk, nv = (size_t)cells * kvh * dv;
    long rows = (T + 63) / 64 * 64; // mask rows, padded as llama.cpp pads them
    size_t mem = 256u << 20;
    mem += (nq + nk + nv) * 4 + (size_t)cells * rows * 2 + (size_t)T * heads * dv * 4;
    struct ggml_context *ctx = ggml_init((struct ggml_init_params){mem, NULL, false});
    if (!ctx) { fprintf(stderr, "ggml_init failed\n"); return 2; }
    struct ggml_tensor *q = ggml_new_tensor_4d(ctx, T_F32, dk, T, heads, 1);
    struct ggml_tensor *k = ggml_new_tensor_4d(ctx, kvt, dk, cells, kvh, 1);
    struct ggml_tensor *v = ggml_new_tensor_4d(ctx, kvt, dv, cells, kvh, 1);
    struct ggml_tensor *m = ggml_new_tensor_4d(ctx, T_F16, cells, rows, 1, 1);

    float *buf = malloc(4 * (nq > nk ? (nq > nv ? nq : nv) : (nk > nv ? nk : nv)));
    // q: [T][heads][dk] in, [heads][T][dk] in ggml (ne = dk, T, heads).
    readf(buf, nq);
    float *qd = ggml_get_data(q);
    for (long t = 0; t < T; t++)
        for (long h = 0; h < heads; h++)
            memcpy(qd + (h * T + t) * dk, buf + (t * heads + h) * dk, 4 * dk);
    // k, v: [cells][kvh][d] in, [kvh][cells][d] in ggml.
    for (int which = 0; which < 2; which++) {
        long d = which == 0 ? dk : dv;
        struct ggml_tensor *x = which == 0 ? k : v;
        readf(buf, (size_t)cells * kvh * d);
        float *row = malloc(4 * d);
        for (long j = 0; j < cells; j++)
            for (long g = 0; g < kvh; g++) {
                memcpy(row, buf + (j * kvh + g) * d, 4 * d);
                size_t off = (size_t)(g * cells + j) * d;
                if (kvt == T_F16) ggml_fp32_to_fp16_row(row, (uint16_t *)ggml_get_data(x) + off, d);
                else memcpy((float *)ggml_get_data(x) + off, row, 4 * d);
            }
        free(row);
    }
    uint16_t *md = ggml_get_data(m);
    float *mrow = malloc(4 * cells);
    for (long r = 0; r < rows; r++) {
        for (long j = 0; j < cells; j++) mrow[j] = (r < T && j <= pos0 + r) ? 0.0f : -INFINITY;
        ggml_fp32_to_fp16_row(mrow, md + r * cells, cells);
    }

    struct ggml_tensor *out = ggml_flash_attn_ext(ctx, q, k, v, m, scale, 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(out, PREC_F32);
    struct ggml_cgraph *g = ggml_new_graph(ctx);
    ggml_build_forward_expand(g, out);
    if (compute(ctx, g, (int)threads) != 0) { fprintf(stderr, "ggml_graph_compute_with_ctx failed\n"); return 2; }
    // out: ne = dv, heads, T: [T][heads][dv] already.
    fwrite(ggml_get_data(out), 4, (size_t)T * heads * dv, stdout);
    ggml_free(ctx);
    return 0;
}
