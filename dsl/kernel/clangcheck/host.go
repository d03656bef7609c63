package clangcheck

// hostCore runs the threads of a block as coroutines (ucontext) switched
// round-robin at every barrier: generated kernels synchronize and shuffle
// only in block-uniform control flow, so every thread reaches the same
// barriers in the same order. Shared memory is static storage; a shuffle
// goes through shared slots between two barriers.
const hostCore = `#include <ucontext.h>
#include <csetjmp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>
// GPU threads are coroutines switched round-robin at every barrier: all
// threads of a block reach the same barriers in the same order.
static const int kMaxThreads = 1024;
static ucontext_t g_ctx[kMaxThreads], g_main;
static jmp_buf g_jb[kMaxThreads];
static bool g_started[kMaxThreads];
static int g_cur, g_n;
// A coroutine starts through its ucontext once; later switches use
// _setjmp/_longjmp, which do not save the signal mask (no system call).
static void sync_all() {
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
static float shuffle_xor(float v, int lane) {
    int me = g_cur;
    g_slots[me] = v;
    sync_all();
    float r = g_slots[me ^ lane];
    sync_all();
    return r;
}
static float h_bits_f32(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
static unsigned int h_f32_bits(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
static float h_f16_to_f32(unsigned short b) {
    unsigned int s = (b & 0x8000u) << 16, e = (b >> 10) & 31, m = b & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return h_bits_f32(s | 0x7f800000u | (m << 13));
    return h_bits_f32(s | ((e + 112) << 23) | (m << 13));
}
static unsigned short h_f32_to_f16(float f) { // nearest even
    unsigned int u = h_f32_bits(f), s = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (a >= 65520.0f) return (unsigned short)(s | 0x7c00u);
    if (a < 6.103515625e-05f) return (unsigned short)(s | (unsigned int)std::nearbyint(a * 16777216.0f));
    unsigned int e = ((u >> 23) & 255) - 112, m = u & 0x7fffffu;
    unsigned int h = (e << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (unsigned short)(s | h);
}
static std::function<void()> g_fn;
static int g_gx, g_gy;
static unsigned int g_tx, g_bx, g_by; // the running thread and block
static void g_entry(int t) {
    for (int y = 0; y < g_gy; y++) for (int x = 0; x < g_gx; x++) {
        g_tx = t;
        g_bx = x;
        g_by = y;
        g_fn(); // reads its thread and block index before its first barrier
        sync_all();
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
// P converts to any pointer type: a buffer argument at a byte offset.
struct P {
    unsigned char* p;
    template <class U> operator U*() const { return (U*)p; }
};
`

// HostCUDA is a C++ prelude that runs generated CUDA kernels on the host
// (see hostCore): launch(gx, gy, threads, f) runs f for every thread of
// every block; load and save read and write buffer files; P{ptr} passes a
// buffer argument.
const HostCUDA = hostCore + `struct dim3_ { unsigned int x, y, z; };
#define threadIdx (dim3_{g_tx, 0, 0})
#define blockIdx (dim3_{g_bx, g_by, 0})
#define __global__
#define __device__
#define __shared__ static
static void __syncthreads() { sync_all(); }
static float __shfl_xor_sync(unsigned int, float v, int lane) { return shuffle_xor(v, lane); }
static float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static float __uint_as_float(unsigned int u) { return h_bits_f32(u); }
static unsigned int __float_as_uint(float f) { return h_f32_bits(f); }
static float __int_as_float(int u) { return h_bits_f32((unsigned int)u); }
struct __half { unsigned short bits; };
static __half __ushort_as_half(unsigned short u) { return __half{u}; }
static float __half2float(__half h) { return h_f16_to_f32(h.bits); }
static __half __float2half(float f) { return __half{h_f32_to_f16(f)}; }
`

// HostMSL is the Metal counterpart of HostCUDA: the MSL qualifiers, types
// and functions generated kernels use, implemented on the host. A kernel
// is called with its buffers and scalars, then MSLPosition() for its
// threadgroup position and MSLThread() for its thread index.
const HostMSL = hostCore + `#define kernel
#define device
#define constant const
#define threadgroup static
namespace metal {
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
struct uint3 { uint x, y, z; };
struct uint4 { uint x, y, z, w; };
struct float4 {
    float v[4];
    float& operator[](int i) { return v[i]; }
    float operator[](int i) const { return v[i]; }
};
struct half {
    unsigned short bits;
    half() = default;
    explicit half(float f) : bits(h_f32_to_f16(f)) {}
    operator float() const { return h_f16_to_f32(bits); }
};
enum class mem_flags { mem_none, mem_device, mem_threadgroup };
inline void threadgroup_barrier(mem_flags) { sync_all(); }
inline float simd_shuffle_xor(float v, ushort lane) { return shuffle_xor(v, lane); }
template <typename T, typename U> inline T as_type(U u) {
    static_assert(sizeof(T) == sizeof(U), "as_type sizes");
    T t;
    std::memcpy(&t, &u, sizeof t);
    return t;
}
using std::exp; using std::cos; using std::sin; using std::pow; using std::tanh;
using std::round; using std::rint; using std::fabs;
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline float max(float a, float b) { return a > b ? a : b; }
inline float min(float a, float b) { return a < b ? a : b; }
}
static metal::uint3 MSLPosition() { return metal::uint3{g_bx, g_by, 0}; }
static metal::uint MSLThread() { return g_tx; }
`
