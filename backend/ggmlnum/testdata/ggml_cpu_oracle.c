// ggml_cpu_oracle runs ggml's own CPU kernels for backend/ggmlnum's tests.
// It loads every libggml-cpu-*.so in DIR, keeps the one whose
// ggml_backend_score is highest (the variant llama.cpp's loader picks),
// and reads its type traits. Prototypes are declared here so no llama.cpp
// headers are needed.
//
//   ggml_cpu_oracle DIR variant            prints the chosen variant
//   ggml_cpu_oracle DIR KIND N < in > out  one dot product per record:
//     KIND q8_0: in = x[N] w[N] floats; w is quantized with the reference
//                quantizer (as weights are), x with the CPU quantizer (as
//                activations are); out = the q8_0·q8_0 vec_dot, then the
//                34-byte blocks of x.
//     KIND q6_K: in = x[N] w[N] floats; w quantized with the reference
//                quantizer, x with the CPU's Q8_K quantizer; out = the
//                q6_K·q8_K vec_dot, the 292-byte Q8_K blocks of x, then
//                the 210-byte Q6_K blocks of w.
//     KIND q4_0: like q8_0 with w quantized to Q4_0: out = the q4_0·q8_0
//                vec_dot, then the 18-byte Q4_0 blocks of w.
//     KIND f32:  in = x[N] y[N] floats; out = ggml_vec_dot_f32.
//     KIND f16:  in = x[N] y[N] floats, rounded to f16; out = ggml_vec_dot_f16.
//     KIND bf16: in = x[N] y[N] floats, rounded to bf16 by the CPU
//                backend's converter; out = ggml_vec_dot_bf16.
//     KIND q:TYPE (q:q5_0, q:q4_1, q:q5_1, q:q5_K, q:q3_K, q:q2_K,
//                q:iq4_nl, q:q4_K): w quantized to TYPE with its reference
//                quantizer, x with the CPU quantizer of TYPE's vec_dot
//                type; out = the vec_dot, then x's blocks, then w's.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*from_float_t)(const float *x, void *y, int64_t k);
typedef void (*vec_dot_t)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
struct type_traits_cpu {
    from_float_t from_float;
    vec_dot_t vec_dot;
    int vec_dot_type;
    int64_t nrows;
};
enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q8_0 = 8, T_Q6_K = 14, T_Q8_K = 15, T_BF16 = 30 };

// The q:TYPE kinds: ggml type id, reference quantizer, block size and
// bytes of the weight, and of its vec_dot type's blocks.
struct qkind { const char *name; int type; const char *ref; int bs, bb, abs, abb; };
static const struct qkind qkinds[] = {
    {"q5_0", 6, "quantize_row_q5_0_ref", 32, 22, 32, 34},
    {"q4_1", 3, "quantize_row_q4_1_ref", 32, 20, 32, 36},
    {"q5_1", 7, "quantize_row_q5_1_ref", 32, 24, 32, 36},
    {"q2_K", 10, "quantize_row_q2_K_ref", 256, 84, 256, 292},
    {"q3_K", 11, "quantize_row_q3_K_ref", 256, 110, 256, 292},
    {"q4_K", 12, "quantize_row_q4_K_ref", 256, 144, 256, 292},
    {"q5_K", 13, "quantize_row_q5_K_ref", 256, 176, 256, 292},
    {"iq4_nl", 20, "quantize_row_iq4_nl_ref", 32, 18, 32, 34},
};

void quantize_row_q8_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q6_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q4_0_ref(const float *x, void *y, int64_t k);
void ggml_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);

static void *best;
static char bestName[256];

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
        if (s > bestScore) { bestScore = s; best = h; snprintf(bestName, sizeof bestName, "%s", e->d_name + 12); }
    }
    closedir(d);
    if (!best || bestScore <= 0) { fprintf(stderr, "no usable libggml-cpu variant in %s\n", dir); exit(2); }
    char *dot = strstr(bestName, ".so");
    if (dot) *dot = 0;
}

static void readf(float *p, int n) {
    if (fread(p, 4, n, stdin) != (size_t)n) { fprintf(stderr, "short input\n"); exit(2); }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: ggml_cpu_oracle DIR variant | DIR q8_0|f32|f16 N\n"); return 2; }
    pick(argv[1]);
    if (!strcmp(argv[2], "variant")) { printf("%s\n", bestName); return 0; }
    if (argc < 4) return 2;
    void (*cpu_init)(void) = (void (*)(void))dlsym(best, "ggml_cpu_init");
    const struct type_traits_cpu *(*traits)(int) = (const struct type_traits_cpu *(*)(int))dlsym(best, "ggml_get_type_traits_cpu");
    if (!cpu_init || !traits) { fprintf(stderr, "missing ggml_cpu symbols\n"); return 2; }
    cpu_init();
    int n = atoi(argv[3]);
    float *x = malloc(4 * n), *y = malloc(4 * n);
    void *qx = malloc(300 * (n / 32 + 1)), *qy = malloc(300 * (n / 32 + 1));
    uint16_t *hx = malloc(2 * n), *hy = malloc(2 * n);
    int c;
    while ((c = getc(stdin)) != EOF) {
        ungetc(c, stdin);
        readf(x, n);
        readf(y, n);
        float s = 0;
        if (!strncmp(argv[2], "q:", 2)) {
            const struct qkind *k = 0;
            for (size_t i = 0; i < sizeof qkinds / sizeof qkinds[0]; i++)
                if (!strcmp(argv[2] + 2, qkinds[i].name)) k = &qkinds[i];
            if (!k) { fprintf(stderr, "unknown kind %s\n", argv[2]); return 2; }
            void (*ref)(const float *, void *, int64_t) = (void (*)(const float *, void *, int64_t))dlsym(RTLD_DEFAULT, k->ref);
            if (!ref) { fprintf(stderr, "missing %s\n", k->ref); return 2; }
            const struct type_traits_cpu *t = traits(k->type);
            traits(t->vec_dot_type)->from_float(x, qx, n);
            ref(y, qy, n);
            t->vec_dot(n, &s, 0, qy, 0, qx, 0, 1);
            fwrite(&s, 4, 1, stdout);
            fwrite(qx, k->abb, n / k->abs, stdout);
            fwrite(qy, k->bb, n / k->bs, stdout);
        } else if (!strcmp(argv[2], "q8_0")) {
            const struct type_traits_cpu *t = traits(T_Q8_0);
            t->from_float(x, qx, n);
            quantize_row_q8_0_ref(y, qy, n);
            t->vec_dot(n, &s, 0, qy, 0, qx, 0, 1);
            fwrite(&s, 4, 1, stdout);
            fwrite(qx, 34, n / 32, stdout);
        } else if (!strcmp(argv[2], "q4_0")) {
            traits(T_Q8_0)->from_float(x, qx, n);
            quantize_row_q4_0_ref(y, qy, n);
            traits(T_Q4_0)->vec_dot(n, &s, 0, qy, 0, qx, 0, 1);
            fwrite(&s, 4, 1, stdout);
            fwrite(qy, 18, n / 32, stdout);
        } else if (!strcmp(argv[2], "q6_K")) {
            traits(T_Q8_K)->from_float(x, qx, n);
            quantize_row_q6_K_ref(y, qy, n);
            traits(T_Q6_K)->vec_dot(n, &s, 0, qy, 0, qx, 0, 1);
            fwrite(&s, 4, 1, stdout);
            fwrite(qx, 292, n / 256, stdout);
            fwrite(qy, 210, n / 256, stdout);
        } else if (!strcmp(argv[2], "f32")) {
            traits(T_F32)->vec_dot(n, &s, 0, x, 0, y, 0, 1);
            fwrite(&s, 4, 1, stdout);
        } else if (!strcmp(argv[2], "f16")) {
            ggml_fp32_to_fp16_row(x, hx, n);
            ggml_fp32_to_fp16_row(y, hy, n);
            traits(T_F16)->vec_dot(n, &s, 0, hx, 0, hy, 0, 1);
            fwrite(&s, 4, 1, stdout);
        } else if (!strcmp(argv[2], "bf16")) {
            const struct type_traits_cpu *t = traits(T_BF16);
            t->from_float(x, hx, n);
            t->from_float(y, hy, n);
            t->vec_dot(n, &s, 0, hx, 0, hy, 0, 1);
            fwrite(&s, 4, 1, stdout);
        } else {
            fprintf(stderr, "unknown kind %s\n", argv[2]);
            return 2;
        }
    }
    return 0;
}
