// ggml_oracle exposes llama.cpp's own GGUF reader and (de)quantizers
// (libggml-base) to gguf's tests. Prototypes are declared here so no
// llama.cpp headers are needed.
//
//   ggml_oracle types N                 id name block_size type_size per line,
//                                       ids 0..N (ggml_type_name has no bounds
//                                       check, so N must be < GGML_TYPE_COUNT)
//   ggml_oracle gguf FILE               what gguf_init_from_file reads
//   ggml_oracle dequant TYPE IN OUT     raw blocks -> float32 (dequantize_row_*)
//   ggml_oracle quant TYPE IN OUT       float32 -> raw blocks (quantize_row_*_ref)
//   ggml_oracle f16|bf16 IN OUT         float32 -> 16-bit (ggml_fp32_to_*_row)
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ggml_context;
struct ggml_tensor;
struct gguf_context;
struct gguf_init_params {
    bool no_alloc;
    struct ggml_context ** ctx;
};

struct gguf_context * gguf_init_from_file(const char * fname, struct gguf_init_params params);
void gguf_free(struct gguf_context * ctx);
uint32_t gguf_get_version(const struct gguf_context * ctx);
size_t gguf_get_alignment(const struct gguf_context * ctx);
size_t gguf_get_data_offset(const struct gguf_context * ctx);
int64_t gguf_get_n_kv(const struct gguf_context * ctx);
const char * gguf_get_key(const struct gguf_context * ctx, int64_t key_id);
int gguf_get_kv_type(const struct gguf_context * ctx, int64_t key_id);
int64_t gguf_get_n_tensors(const struct gguf_context * ctx);
const char * gguf_get_tensor_name(const struct gguf_context * ctx, int64_t tensor_id);
size_t gguf_get_tensor_offset(const struct gguf_context * ctx, int64_t tensor_id);
int gguf_get_tensor_type(const struct gguf_context * ctx, int64_t tensor_id);
struct ggml_tensor * ggml_get_tensor(struct ggml_context * ctx, const char * name);
void * ggml_get_data(const struct ggml_tensor * tensor);
size_t ggml_nbytes(const struct ggml_tensor * tensor);
void ggml_free(struct ggml_context * ctx);
const char * ggml_type_name(int type);
int64_t ggml_blck_size(int type);
size_t ggml_type_size(int type);

void ggml_fp32_to_fp16_row(const float * x, uint16_t * y, int64_t n);
void ggml_fp32_to_bf16_row_ref(const float * x, uint16_t * y, int64_t n);

typedef void (*dequant_fn)(const void * x, float * y, int64_t k);
typedef void (*quant_fn)(const float * x, void * y, int64_t k);
#define DQ(name) void dequantize_row_##name(const void *, float *, int64_t);
#define Q(name) void quantize_row_##name##_ref(const float *, void *, int64_t);
DQ(q4_0) DQ(q4_1) DQ(q5_0) DQ(q5_1) DQ(q8_0) DQ(q2_K) DQ(q3_K) DQ(q4_K) DQ(q5_K) DQ(q6_K) DQ(q8_K) DQ(iq4_nl)
Q(q4_0) Q(q4_1) Q(q5_0) Q(q5_1) Q(q8_0) Q(q2_K) Q(q3_K) Q(q4_K) Q(q5_K) Q(q6_K) Q(q8_K)

static dequant_fn dequantizer(const char * t) {
    if (!strcmp(t, "Q4_0")) return dequantize_row_q4_0;
    if (!strcmp(t, "Q4_1")) return dequantize_row_q4_1;
    if (!strcmp(t, "Q5_0")) return dequantize_row_q5_0;
    if (!strcmp(t, "Q5_1")) return dequantize_row_q5_1;
    if (!strcmp(t, "Q8_0")) return dequantize_row_q8_0;
    if (!strcmp(t, "Q2_K")) return dequantize_row_q2_K;
    if (!strcmp(t, "Q3_K")) return dequantize_row_q3_K;
    if (!strcmp(t, "Q4_K")) return dequantize_row_q4_K;
    if (!strcmp(t, "Q5_K")) return dequantize_row_q5_K;
    if (!strcmp(t, "Q6_K")) return dequantize_row_q6_K;
    if (!strcmp(t, "Q8_K")) return dequantize_row_q8_K;
    if (!strcmp(t, "IQ4_NL")) return dequantize_row_iq4_nl;
    return NULL;
}

static quant_fn quantizer(const char * t) {
    if (!strcmp(t, "Q4_0")) return quantize_row_q4_0_ref;
    if (!strcmp(t, "Q4_1")) return quantize_row_q4_1_ref;
    if (!strcmp(t, "Q5_0")) return quantize_row_q5_0_ref;
    if (!strcmp(t, "Q5_1")) return quantize_row_q5_1_ref;
    if (!strcmp(t, "Q8_0")) return quantize_row_q8_0_ref;
    if (!strcmp(t, "Q2_K")) return quantize_row_q2_K_ref;
    if (!strcmp(t, "Q3_K")) return quantize_row_q3_K_ref;
    if (!strcmp(t, "Q4_K")) return quantize_row_q4_K_ref;
    if (!strcmp(t, "Q5_K")) return quantize_row_q5_K_ref;
    if (!strcmp(t, "Q6_K")) return quantize_row_q6_K_ref;
    if (!strcmp(t, "Q8_K")) return quantize_row_q8_K_ref;
    return NULL;
}

static void * slurp(const char * path, long * n) {
    FILE * f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void * b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != (size_t) *n) { perror(path); exit(1); }
    fclose(f);
    return b;
}

static void spit(const char * path, const void * b, size_t n) {
    FILE * f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static uint64_t fnv1a(const unsigned char * p, size_t n) {
    uint64_t h = 14695981039346656037ULL; // FNV-1a 64 offset basis
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

int main(int argc, char ** argv) {
    if (argc == 3 && !strcmp(argv[1], "types")) {
        for (int t = 0; t <= atoi(argv[2]); t++) {
            const char * name = ggml_type_name(t);
            if (!name) continue;
            int64_t bs = ggml_blck_size(t);
            if (bs == 0) continue; // removed type
            printf("%d %s %lld %zu\n", t, name, (long long) bs, ggml_type_size(t));
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "gguf")) {
        struct ggml_context * ctx = NULL;
        struct gguf_init_params p = { false, &ctx };
        struct gguf_context * g = gguf_init_from_file(argv[2], p);
        if (!g) { printf("error\n"); return 0; }
        printf("version %u\nalignment %zu\ndata_offset %zu\n", gguf_get_version(g), gguf_get_alignment(g), gguf_get_data_offset(g));
        for (int64_t i = 0; i < gguf_get_n_kv(g); i++) {
            printf("kv %s %d\n", gguf_get_key(g, i), gguf_get_kv_type(g, i));
        }
        for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
            const char * name = gguf_get_tensor_name(g, i);
            struct ggml_tensor * t = ggml_get_tensor(ctx, name);
            printf("tensor %s %d %zu %zu %016llx\n", name, gguf_get_tensor_type(g, i), gguf_get_tensor_offset(g, i),
                   ggml_nbytes(t), (unsigned long long) fnv1a(ggml_get_data(t), ggml_nbytes(t)));
        }
        gguf_free(g);
        ggml_free(ctx);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "dequant")) {
        dequant_fn f = dequantizer(argv[2]);
        if (!f) { fprintf(stderr, "no dequantizer for %s\n", argv[2]); return 1; }
        long n;
        void * in = slurp(argv[3], &n);
        int64_t k = atoll(getenv("ORACLE_N"));
        float * out = malloc(k * sizeof(float));
        f(in, out, k);
        spit(argv[4], out, k * sizeof(float));
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "quant")) {
        quant_fn f = quantizer(argv[2]);
        if (!f) { fprintf(stderr, "no quantizer for %s\n", argv[2]); return 1; }
        long n;
        float * in = slurp(argv[3], &n);
        size_t outBytes = (size_t) atoll(getenv("ORACLE_BYTES"));
        void * out = calloc(1, outBytes);
        f(in, out, n / 4);
        spit(argv[4], out, outBytes);
        return 0;
    }
    if (argc == 4 && (!strcmp(argv[1], "f16") || !strcmp(argv[1], "bf16"))) {
        long n;
        float * in = slurp(argv[2], &n);
        uint16_t * out = malloc(n / 2);
        if (!strcmp(argv[1], "f16")) ggml_fp32_to_fp16_row(in, out, n / 4);
        else ggml_fp32_to_bf16_row_ref(in, out, n / 4);
        spit(argv[3], out, n / 2);
        return 0;
    }
    fprintf(stderr, "usage: ggml_oracle types N | gguf FILE | dequant TYPE IN OUT | quant TYPE IN OUT | f16|bf16 IN OUT\n");
    return 2;
}
