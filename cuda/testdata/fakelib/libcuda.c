/* A fake libcuda.so.1 for testing the cuda backend's purego binding on a
 * machine without a GPU. "Device" memory is host memory; kernels are C
 * twins of the test kernels (cuda/testkernels_test.go) that read their
 * parameters through kernelParams exactly as the driver would. Calls that
 * need a context fail with CUDA_ERROR_INVALID_CONTEXT unless the calling
 * thread made the primary context current. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
#define CTX ((void*)0x5eed)
static __thread void* current;
#define NEED_CTX() do { if (current != CTX) return 201; } while (0)

typedef struct { int id; int maxdyn; } Func;
static Func funcs[3] = {{0, 49152}, {1, 49152}, {2, 49152}};
static const char* names[3] = {"axpy", "addpos", "rowsum"};

typedef struct { Func* f; unsigned g[3], b[3], shared; unsigned char params[64]; int n; int offs[8]; } Launch;
typedef struct { int capturing; Launch* cap; int ncap; } Stream;
typedef struct { Launch* l; int n; } Graph;

static long launches, graph_launches;
static int fault; /* the stream's sticky error, reported by cuStreamQuery */
static float clock_ms;

long fake_launches(void) { return launches; }
long fake_graph_launches(void) { return graph_launches; }

CUresult cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return 0; }
CUresult cuDeviceGet(int* d, int ord) { if (ord != 0) return 101; *d = 0; return 0; }
CUresult cuDeviceGetName(char* s, int len, int d) { strncpy(s, "Fake libcuda GPU", len); return 0; }
CUresult cuDeviceGetAttribute(int* v, int a, int d) {
	switch (a) {
	case 1: case 2: case 3: *v = 1024; return 0;
	case 4: *v = 64; return 0;
	case 5: *v = 2147483647; return 0;
	case 6: case 7: *v = 65535; return 0;
	case 8: *v = 49152; return 0;
	case 16: *v = 132; return 0;
	case 75: *v = 9; return 0;
	case 76: *v = 0; return 0;
	case 97: *v = 232448; return 0;
	}
	return 1;
}
CUresult cuDeviceTotalMem_v2(size_t* n, int d) { *n = (size_t)80 << 30; return 0; }
CUresult cuDevicePrimaryCtxRetain(void** c, int d) { *c = CTX; return 0; }
CUresult cuCtxSetCurrent(void* c) { if (c != CTX && c != 0) return 201; current = c; return 0; }
CUresult cuCtxSynchronize(void) { NEED_CTX(); return 0; }

static const char* err_name(int c) {
	switch (c) {
	case 1: return "CUDA_ERROR_INVALID_VALUE";
	case 200: return "CUDA_ERROR_INVALID_IMAGE";
	case 201: return "CUDA_ERROR_INVALID_CONTEXT";
	case 500: return "CUDA_ERROR_NOT_FOUND";
	case 600: return "CUDA_ERROR_NOT_READY";
	case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
	}
	return 0;
}
CUresult cuGetErrorName(int c, const char** s) { *s = err_name(c); return *s ? 0 : 1; }
CUresult cuGetErrorString(int c, const char** s) {
	*s = c == 201 ? "invalid device context" : c == 1 ? "invalid argument" : c == 500 ? "named symbol not found"
		: c == 700 ? "an illegal memory access was encountered" : 0;
	return *s ? 0 : 1;
}

CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { NEED_CTX(); *f = (size_t)79 << 30; *t = (size_t)80 << 30; return 0; }
CUresult cuMemAlloc_v2(uint64_t* p, size_t n) { NEED_CTX(); void* m = malloc(n); if (!m) return 2; *p = (uint64_t)(uintptr_t)m; return 0; }
CUresult cuMemFree_v2(uint64_t p) { NEED_CTX(); free((void*)(uintptr_t)p); return 0; }
CUresult cuMemsetD8Async(uint64_t p, unsigned char v, size_t n, void* s) { NEED_CTX(); memset((void*)(uintptr_t)p, v, n); return 0; }
CUresult cuMemcpyHtoDAsync_v2(uint64_t d, const void* s, size_t n, void* st) { NEED_CTX(); memcpy((void*)(uintptr_t)d, s, n); return 0; }
CUresult cuMemcpyDtoHAsync_v2(void* d, uint64_t s, size_t n, void* st) { NEED_CTX(); memcpy(d, (void*)(uintptr_t)s, n); return 0; }

CUresult cuStreamCreate(void** s, unsigned flags) { NEED_CTX(); if (flags != 1) return 1; *s = calloc(1, sizeof(Stream)); return 0; }
CUresult cuStreamDestroy_v2(void* s) { NEED_CTX(); free(s); return 0; }
CUresult cuStreamQuery(void* s) { NEED_CTX(); return fault; }

CUresult cuModuleLoadData(void** m, const void* image) {
	NEED_CTX();
	if (strncmp((const char*)image, "FAKECUBIN", 9) != 0) return 200;
	*m = strdup((const char*)image);
	return 0;
}
CUresult cuModuleGetFunction(void** f, void* m, const char* name) {
	NEED_CTX();
	for (int i = 0; i < 3; i++)
		if (strcmp(name, names[i]) == 0 && strstr((const char*)m, name)) { *f = &funcs[i]; return 0; }
	return 500;
}
CUresult cuFuncGetAttribute(int* v, int a, void* f) { NEED_CTX(); *v = a == 0 ? 1024 : a == 1 ? 0 : 16; return 0; }
CUresult cuFuncSetAttribute(void* f, int a, int v) { NEED_CTX(); if (a != 8) return 1; ((Func*)f)->maxdyn = v; return 0; }

static const int layout[3][5][2] = {{{0, 8}, {8, 8}, {16, 4}, {20, 4}, {-1, 0}}, {{0, 8}, {8, 8}, {16, 4}, {-1, 0}}, {{0, 8}, {8, 8}, {16, 4}, {-1, 0}}};
CUresult cuFuncGetParamInfo(void* f, size_t i, size_t* off, size_t* size) {
	NEED_CTX();
	int id = ((Func*)f)->id;
	if (i >= 5 || layout[id][i][0] < 0) return 1;
	*off = layout[id][i][0];
	*size = layout[id][i][1];
	return 0;
}

static void run(Launch* l) {
	unsigned char* p = l->params;
	launches++;
	clock_ms += 0.25f;
	unsigned nb = l->g[0], nt = l->b[0];
	if (l->f->id == 0) { /* axpy(float* y, const float* x, int n, float a) */
		float* y = *(float**)(p + 0); const float* x = *(float**)(p + 8);
		int n = *(int*)(p + 16); float a = *(float*)(p + 20);
		for (unsigned b = 0; b < nb; b++) for (unsigned t = 0; t < nt; t++) {
			int i = b * nt + t;
			if (i < n) y[i] = a * x[i] + y[i];
		}
	} else if (l->f->id == 1) { /* addpos(float* y, const int* pos, int n) */
		float* y = *(float**)(p + 0); const int* pos = *(int**)(p + 8); int n = *(int*)(p + 16);
		for (unsigned b = 0; b < nb; b++) for (unsigned t = 0; t < nt; t++) {
			int i = b * nt + t;
			if (i < n) y[i] = y[i] + (float)pos[0];
		}
	} else { /* rowsum(float* out, const float* x, int n), the same order */
		if (l->shared < 4 * nt) { fault = 700; return; } /* partials past the shared memory */
		float* out = *(float**)(p + 0); const float* x = *(float**)(p + 8); int n = *(int*)(p + 16);
		float part[1024];
		for (unsigned b = 0; b < nb; b++) {
			const float* row = x + (long long)b * n;
			for (unsigned t = 0; t < nt; t++) {
				float s = 0.0f;
				for (int k = t; k < n; k += nt) s += row[k];
				part[t] = s;
			}
			for (unsigned h = nt / 2; h > 0; h >>= 1)
				for (unsigned t = 0; t < h; t++) part[t] += part[t + h];
			out[b] = part[0];
		}
	}
}

/* launch is cuLaunchKernel's body: static, so cuLaunchKernelEx reaches
 * this library's own (several fakes may be loaded in one test process). */
static CUresult launch(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned shared, void* s, void** params, void** extra) {
	NEED_CTX();
	Func* fn = (Func*)f;
	if (extra != 0 || params == 0 || shared > (unsigned)fn->maxdyn || bx * by * bz > 1024) return 1;
	Launch l = {fn, {gx, gy, gz}, {bx, by, bz}, shared};
	/* Copy each parameter through its kernelParams pointer, as the driver. */
	for (int i = 0; i < 5 && layout[fn->id][i][0] >= 0; i++)
		memcpy(l.params + layout[fn->id][i][0], params[i], layout[fn->id][i][1]);
	Stream* st = (Stream*)s;
	if (st->capturing) {
		st->cap = realloc(st->cap, (st->ncap + 1) * sizeof(Launch));
		st->cap[st->ncap++] = l;
		return 0;
	}
	run(&l);
	return 0;
}
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* s, void** params, void** extra) {
	return launch(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}

/* cuLaunchKernelEx with cuda.h's CUlaunchConfig and CUlaunchAttribute
 * layouts: the launch is checked (one attribute, programmatic stream
 * serialization allowed) and run as cuLaunchKernel runs it. */
typedef struct { int id; char pad[4]; union { char pad[64]; int programmaticStreamSerializationAllowed; } value; } CUlaunchAttribute;
typedef struct {
	unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
	void* hStream;
	CUlaunchAttribute* attrs;
	unsigned numAttrs;
} CUlaunchConfig;
static long pdl_launches;
long fake_pdl_launches(void) { return pdl_launches; }
CUresult cuLaunchKernelEx(const CUlaunchConfig* c, void* f, void** params, void** extra) {
	NEED_CTX();
	if (c->numAttrs != 1 || c->attrs[0].id != 6 || c->attrs[0].value.programmaticStreamSerializationAllowed != 1) return 1;
	pdl_launches++;
	return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
	              c->sharedMemBytes, c->hStream, params, extra);
}

CUresult cuStreamBeginCapture_v2(void* s, int mode) { NEED_CTX(); if (mode != 1) return 1; Stream* st = s; st->capturing = 1; st->ncap = 0; st->cap = 0; return 0; }
CUresult cuStreamEndCapture(void* s, void** g) {
	NEED_CTX();
	Stream* st = s;
	Graph* gr = malloc(sizeof(Graph));
	gr->l = st->cap; gr->n = st->ncap;
	st->capturing = 0; st->cap = 0; st->ncap = 0;
	*g = gr;
	return 0;
}
CUresult cuGraphInstantiateWithFlags(void** x, void* g, unsigned long long flags) {
	NEED_CTX();
	Graph* src = g; Graph* dst = malloc(sizeof(Graph));
	dst->n = src->n;
	dst->l = malloc(src->n * sizeof(Launch) + 1);
	memcpy(dst->l, src->l, src->n * sizeof(Launch));
	*x = dst;
	return 0;
}
CUresult cuGraphDestroy(void* g) { NEED_CTX(); free(((Graph*)g)->l); free(g); return 0; }
CUresult cuGraphExecDestroy(void* x) { NEED_CTX(); free(((Graph*)x)->l); free(x); return 0; }
CUresult cuGraphLaunch(void* x, void* s) {
	NEED_CTX();
	Graph* g = x;
	graph_launches++;
	for (int i = 0; i < g->n; i++) run(&g->l[i]);
	return 0;
}

CUresult cuEventCreate(void** e, unsigned flags) { NEED_CTX(); *e = calloc(1, sizeof(float)); return 0; }
CUresult cuEventRecord(void* e, void* s) { NEED_CTX(); *(float*)e = clock_ms; return 0; }
CUresult cuEventElapsedTime_v2(float* ms, void* a, void* b) { NEED_CTX(); *ms = *(float*)b - *(float*)a; return 0; }
CUresult cuEventDestroy_v2(void* e) { NEED_CTX(); free(e); return 0; }
