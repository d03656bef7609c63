// Package clangcheck checks generated MSL and CUDA sources with clang on
// any host: Check parses each dialect as C++17 against a small shim header
// (shim/msl/metal_stdlib, shim/cuda/cuda_fp16.h) that declares the Metal
// and CUDA types, qualifiers and intrinsics generated kernels use, and
// HostCUDA lets tests compile and execute CUDA kernels on the CPU.
package clangcheck

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed shim
var shim embed.FS

// Clang returns the path of a clang++ (or clang) binary, or an error
// saying why there is none.
func Clang() (string, error) {
	for _, name := range []string{"clang++-14", "clang++", "clang-14", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("clang not found on PATH (scripts/setup.sh installs clang 14)")
}

// Source is one kernel source to check.
type Source struct {
	Name string
	Code string
}

// Check parses every source of one dialect ("msl" or "cuda") with clang,
// all in one translation unit (each kernel in its own namespace). When the
// batch fails it checks each source alone and reports the failing ones by
// name with clang's messages.
func Check(dialect string, srcs []Source) error {
	clang, err := Clang()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "clangcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, p := range []string{"shim/msl/metal_stdlib", "shim/cuda/cuda_fp16.h"} {
		data, err := shim.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	inc := filepath.Join(dir, "shim", dialect)
	if dialect != "msl" && dialect != "cuda" {
		return fmt.Errorf("clangcheck: unknown dialect %q", dialect)
	}
	if err := run(clang, dir, inc, dialect, srcs); err == nil {
		return nil
	}
	var errs []error
	for _, s := range srcs {
		if err := run(clang, dir, inc, dialect, []Source{s}); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", s.Name, dialect, err))
		}
	}
	if len(errs) == 0 {
		return errors.New("clangcheck: the batch failed but every kernel passes alone (namespace clash?)")
	}
	return errors.Join(errs...)
}

func run(clang, dir, inc, dialect string, srcs []Source) error {
	header := "#include <metal_stdlib>\n"
	if dialect == "cuda" {
		header = "#include <cuda_fp16.h>\n"
	}
	var tu strings.Builder
	tu.WriteString(header)
	for i, s := range srcs {
		code := strings.Replace(s.Code, header, "", 1)
		code = strings.Replace(code, "using namespace metal;\n", "", 1)
		code = strings.ReplaceAll(code, "extern \"C\" ", "")
		fmt.Fprintf(&tu, "namespace k%d {\n", i)
		if dialect == "msl" {
			tu.WriteString("using namespace metal;\n")
		}
		tu.WriteString(code)
		tu.WriteString("}\n")
	}
	file := filepath.Join(dir, "tu.cpp")
	if err := os.WriteFile(file, []byte(tu.String()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(clang, "-x", "c++", "-std=c++17", "-fsyntax-only", "-Wno-unknown-attributes",
		"-Werror=return-type", "-Werror=uninitialized", "-ferror-limit=20", "-I", inc, file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// HostCUDA is a C++ prelude that runs generated CUDA kernels on the host:
// the threads of a block are coroutines (ucontext) switched round-robin at
// every __syncthreads, shared memory is static storage and a warp shuffle
// goes through shared slots between two barriers (generated code only
// shuffles and synchronizes in block-uniform control flow). launch(gx, gy, threads, f) runs f for every
// block; load and save read and write buffer files.
const HostCUDA = `#include <ucontext.h>
#include <csetjmp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>
struct dim3_ { unsigned int x, y, z; };
static dim3_ threadIdx, blockIdx;
#define __global__
#define __device__
#define __shared__ static
// GPU threads are coroutines switched round-robin at every barrier: all
// threads of a block reach the same barriers in the same order.
static const int kMaxThreads = 1024;
static ucontext_t g_ctx[kMaxThreads], g_main;
static jmp_buf g_jb[kMaxThreads];
static bool g_started[kMaxThreads];
static int g_cur, g_n;
// A coroutine starts through its ucontext once; later switches use
// _setjmp/_longjmp, which do not save the signal mask (no system call).
static void __syncthreads() {
    int me = g_cur, next = (me + 1) % g_n;
    if (_setjmp(g_jb[me]) == 0) {
        g_cur = next;
        if (!g_started[next]) {
            g_started[next] = true;
            setcontext(&g_ctx[next]);
        }
        _longjmp(g_jb[next], 1);
    }
}
static float g_slots[kMaxThreads];
static float __shfl_xor_sync(unsigned int, float v, int lane) {
    int me = g_cur;
    g_slots[me] = v;
    __syncthreads();
    float r = g_slots[me ^ lane];
    __syncthreads();
    return r;
}
static float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
static unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
static float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
struct __half { unsigned short bits; };
static __half __ushort_as_half(unsigned short u) { return __half{u}; }
static float __half2float(__half h) {
    unsigned int s = (h.bits & 0x8000u) << 16, e = (h.bits >> 10) & 31, m = h.bits & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return __uint_as_float(s | 0x7f800000u | (m << 13));
    return __uint_as_float(s | ((e + 112) << 23) | (m << 13));
}
static __half __float2half(float f) { // nearest even, normal and subnormal range
    unsigned int u = __float_as_uint(f), s = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (a >= 65520.0f) return __half{(unsigned short)(s | 0x7c00u)};
    if (a < 6.103515625e-05f) { // subnormal: multiples of 2^-24
        float q = std::nearbyint(a * 16777216.0f);
        return __half{(unsigned short)(s | (unsigned int)q)};
    }
    unsigned int e = ((u >> 23) & 255) - 112, m = u & 0x7fffffu;
    unsigned int h = (e << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return __half{(unsigned short)(s | h)};
}
static std::function<void()> g_fn;
static int g_gx, g_gy;
static void g_entry(int t) {
    for (int y = 0; y < g_gy; y++) for (int x = 0; x < g_gx; x++) {
        threadIdx = dim3_{(unsigned)t, 0, 0};
        blockIdx = dim3_{(unsigned)x, (unsigned)y, 0};
        g_fn(); // reads threadIdx and blockIdx before its first barrier
        __syncthreads();
    }
}
static char* g_stacks = new char[size_t(kMaxThreads) * 65536]; // shared by every launch
template <class F> static void launch(int gx, int gy, int threads, F f) {
    g_fn = f;
    g_gx = gx;
    g_gy = gy;
    g_n = threads;
    for (int t = 0; t < threads; t++) {
        getcontext(&g_ctx[t]);
        g_ctx[t].uc_stack.ss_sp = g_stacks + size_t(t) * 65536;
        g_ctx[t].uc_stack.ss_size = 65536;
        g_ctx[t].uc_link = &g_main;
        makecontext(&g_ctx[t], (void (*)())g_entry, 1, t);
        g_started[t] = t == 0;
    }
    g_cur = 0;
    swapcontext(&g_main, &g_ctx[0]);
}
static std::vector<unsigned char> load(const char* p) {
    FILE* f = std::fopen(p, "rb");
    std::vector<unsigned char> b;
    unsigned char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
    std::fclose(f);
    return b;
}
static void save(const char* p, const std::vector<unsigned char>& b) {
    FILE* f = std::fopen(p, "wb");
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
}
`

// HostFlags are the clang arguments that compile a HostCUDA program cpp
// into the executable bin.
func HostFlags(bin, cpp string) []string {
	return []string{"-x", "c++", "-std=c++17", "-O1", "-Wno-unknown-attributes", "-o", bin, cpp}
}
