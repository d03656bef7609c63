/* A fake libnvrtc.so for testing the cuda backend's purego binding: it
 * "compiles" a source into "FAKECUBIN <entries>", checks the options it is
 * given and fails like NVRTC on a source using an undeclared name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char* src; char* name; char log[512]; char image[512]; int fp16; } Prog;
static char last_options[2048];

const char* fake_last_options(void) { return last_options; }

int nvrtcVersion(int* maj, int* min) { *maj = 13; *min = 0; return 0; }
const char* nvrtcGetErrorString(int r) {
	switch (r) {
	case 0: return "NVRTC_SUCCESS";
	case 5: return "NVRTC_ERROR_INVALID_OPTION";
	case 6: return "NVRTC_ERROR_COMPILATION";
	}
	return "NVRTC_ERROR_UNKNOWN";
}
/* Headers: only an in-memory cuda_fp16.h defining __half2float is usable
 * (this fake has no toolkit headers and no built-in ones). */
int nvrtcCreateProgram(void** p, const char* src, const char* name, int n, const char* const* h, const char* const* inc) {
	if (n < 0 || !src || !name || (n > 0 && (!h || !inc))) return 3;
	Prog* pr = calloc(1, sizeof(Prog));
	for (int i = 0; i < n; i++)
		if (strcmp(inc[i], "cuda_fp16.h") == 0 && strstr(h[i], "__half2float")) pr->fp16 = 1;
	pr->src = strdup(src);
	pr->name = strdup(name);
	*p = pr;
	return 0;
}
int nvrtcDestroyProgram(void** p) { Prog* pr = *p; free(pr->src); free(pr->name); free(pr); *p = 0; return 0; }
int nvrtcCompileProgram(void* p, int n, const char* const* opts) {
	Prog* pr = p;
	last_options[0] = 0;
	int arch = 0;
	for (int i = 0; i < n; i++) {
		if (i) strcat(last_options, " ");
		strncat(last_options, opts[i], sizeof last_options - strlen(last_options) - 1);
		if (strcmp(opts[i], "--gpu-architecture=sm_90") == 0) arch = 1;
		if (strcmp(opts[i], "--use_fast_math") == 0) return 5;
	}
	if (!arch) return 5;
	const char* inc = strstr(pr->src, "#include <cuda_fp16.h>");
	if (inc && !pr->fp16) {
		snprintf(pr->log, sizeof pr->log, "%s(1): catastrophic error: cannot open source file \"cuda_fp16.h\"\n", pr->name);
		return 6;
	}
	const char* bad = strstr(pr->src, "undeclared_name");
	if (bad) {
		int line = 1;
		for (const char* c = pr->src; c < bad; c++) line += *c == '\n';
		snprintf(pr->log, sizeof pr->log, "%s(%d): error: identifier \"undeclared_name\" is undefined\n\n1 error detected in the compilation of \"%s\".\n", pr->name, line, pr->name);
		return 6;
	}
	strcpy(pr->image, "FAKECUBIN");
	for (const char* c = pr->src; (c = strstr(c, "__global__ void ")); ) {
		c += strlen("__global__ void ");
		size_t k = strcspn(c, "(");
		strcat(pr->image, " ");
		strncat(pr->image, c, k);
	}
	return 0;
}
int nvrtcGetProgramLogSize(void* p, size_t* n) { *n = strlen(((Prog*)p)->log) + 1; return 0; }
int nvrtcGetProgramLog(void* p, char* log) { strcpy(log, ((Prog*)p)->log); return 0; }
int nvrtcGetCUBINSize(void* p, size_t* n) { *n = strlen(((Prog*)p)->image) + 1; return 0; }
int nvrtcGetCUBIN(void* p, char* out) { strcpy(out, ((Prog*)p)->image); return 0; }
int nvrtcGetPTXSize(void* p, size_t* n) { return 5; }
int nvrtcGetPTX(void* p, char* out) { return 5; }
