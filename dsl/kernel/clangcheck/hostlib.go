package clangcheck

// HostCUDALib is a C++ prelude that builds CUDA kernels into a host shared
// library (compile with HostLibFlags) whose launches a Go test calls
// through purego. Unlike HostCUDA it is exact per warp, so kernels may use
// warp shuffles in control flow that differs between warps (a warp per
// output row that exits early, a loop whose trip count is per warp):
//
//   - The threads of a block are coroutines (ucontext stacks, switched with
//     _setjmp/_longjmp) driven by a scheduler that runs every runnable
//     thread until it blocks. A thread blocks at __syncthreads (released
//     when every thread of the block is there), at a warp collective
//     (__shfl_sync, __shfl_xor_sync, __shfl_down_sync, __syncwarp: released
//     when all 32 lanes of its warp are there) or when it finishes.
//   - Divergence that would hang or be undefined on a GPU is an error, not
//     a guess: a shuffle whose warp has lanes elsewhere (at a barrier,
//     finished), a shuffle with a mask other than 0xffffffff, a barrier
//     after some threads of the block finished, a warp collective in a
//     block that is not whole warps.
//   - Shuffle values travel through double-buffered per-thread slots, so a
//     fast lane that posts its next value cannot overwrite one a slow lane
//     has yet to read.
//   - __shared__ variables are static storage: one copy, shared by the
//     threads of a block (blocks run one after another).
//
// A kernel's extern "C" entry is launched with hrt::launch(gx, gy, gz,
// threads, f), f calling the entry; P{address} passes a buffer argument
// (it converts to any pointer type) and hrt::f32(bits) a float one.
// A misaligned load or store (trapped, see HostLibFlags) is a launch error
// too. Exported helpers: hrt_alloc (zeroed memory that ends at a guard
// page, so a read past a buffer's end is a launch error naming the buffer
// and offset, behind a red zone), hrt_check (the offset of the first red-zone
// byte a launch changed, or INT64_MIN), hrt_free, hrt_error (the message
// of the last failed launch).
const HostCUDALib = `#include <ucontext.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <csetjmp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <functional>
#include <map>
namespace hrt {
static const int kMaxThreads = 1024, kStack = 1 << 16;
enum { RUN, BAR, WARP, DONE };
static ucontext_t ctx[kMaxThreads];
static jmp_buf jb[kMaxThreads], sched;
static bool started[kMaxThreads];
static int st[kMaxThreads], phase[kMaxThreads];
static uint64_t slot[2][kMaxThreads];
static int cur, nthr;
static unsigned bx, by, bz, gdx, gdy, gdz;
static std::function<void()> fn;
static char* stacks;
static char err[1024];
static bool failed;
static void fail(const char* what) {
    if (!failed) std::snprintf(err, sizeof err, "block (%u,%u,%u) thread %d: %s", bx, by, bz, cur, what);
    failed = true;
}
// block parks the running thread in state s and returns to the scheduler.
static void block(int s) {
    int me = cur;
    st[me] = s;
    if (_setjmp(jb[me]) == 0) _longjmp(sched, 1);
}
static void entry(int) {
    for (;;) {
        fn();
        block(DONE);
    }
}
static void resume(int t) {
    if (_setjmp(sched) == 0) {
        cur = t;
        st[t] = RUN;
        if (!started[t]) {
            started[t] = true;
            setcontext(&ctx[t]);
        }
        _longjmp(jb[t], 1);
    }
}
// warp_post publishes v for the lanes of the running thread's warp and
// waits for all of them; the caller reads slot[ph][…] afterwards.
static int warp_post(unsigned mask, const void* v, size_t n) {
    int me = cur, ph = phase[me];
    if (mask != 0xffffffffu) fail("warp collective with a partial mask (the kernels use full warps only)");
    std::memcpy(&slot[ph][me], v, n);
    phase[me] ^= 1;
    block(WARP);
    return ph;
}
template <class T> static T warp_read(int ph, int lane) {
    T r;
    std::memcpy(&r, &slot[ph][(cur & ~31) | (lane & 31)], sizeof r);
    return r;
}
// run_block runs the threads of the current block to completion.
static bool run_block() {
    for (int t = 0; t < nthr; t++) st[t] = RUN, phase[t] = 0;
    for (;;) {
        for (int t = 0; t < nthr; t++) {
            if (st[t] == RUN) resume(t);
            if (failed) return false;
        }
        int done = 0, bar = 0;
        for (int t = 0; t < nthr; t++) done += st[t] == DONE, bar += st[t] == BAR;
        if (done == nthr) return true;
        bool released = false;
        for (int w = 0; w * 32 < nthr; w++) {
            int lo = 32 * w, hi = lo + 32 < nthr ? lo + 32 : nthr, at = 0;
            for (int t = lo; t < hi; t++) at += st[t] == WARP;
            if (at == 0) continue;
            cur = lo;
            if (hi - lo != 32) return fail("warp collective in a block that is not whole warps"), false;
            if (at != 32) {
                for (int t = lo; t < hi; t++) {
                    if (st[t] != WARP) {
                        cur = t;
                        return fail(st[t] == DONE ? "lane finished while its warp waits at a shuffle" : "lane at __syncthreads while its warp waits at a shuffle"), false;
                    }
                }
            }
            for (int t = lo; t < hi; t++) st[t] = RUN;
            released = true;
        }
        if (released) continue;
        if (bar > 0 && done > 0) return fail("__syncthreads after some threads of the block finished"), false;
        if (bar != nthr) return fail("deadlock"), false;
        for (int t = 0; t < nthr; t++) st[t] = RUN;
    }
}
// Buffers: each ends flush against a PROT_NONE guard page (its start
// 16-byte aligned, so at most 15 bytes of slack), after a red zone; reads
// past the end fault, writes into the red zone or slack are found by check.
struct Region { char* map; size_t len; char* base; size_t n; };
static std::map<char*, Region> regions;
static const unsigned char kRed = 0xa5;
static char* alloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (n + 64 + 16 + page - 1) / page * page;
    void* m = mmap(nullptr, body + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    char* map = (char*)m;
    mprotect(map, page, PROT_NONE);
    mprotect(map + page + body, page, PROT_NONE);
    char* base = (char*)(((uintptr_t)(map + page + body) - n) & ~(uintptr_t)15);
    std::memset(map + page, kRed, body);
    std::memset(base, 0, n);
    regions[base] = Region{map, body + 2 * page, base, n};
    return base;
}
static void release(char* base) {
    auto it = regions.find(base);
    if (it == regions.end()) return;
    munmap(it->second.map, it->second.len);
    regions.erase(it);
}
// check returns the offset (from base) of the first red-zone byte a kernel
// changed, or INT64_MIN when none did (or base is unknown).
static int64_t check(char* base) {
    auto it = regions.find(base);
    if (it == regions.end()) return INT64_MIN;
    const Region& r = it->second;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (char* p = r.map + page; p < r.map + r.len - page; p++) {
        if ((p < r.base || p >= r.base + r.n) && (unsigned char)*p != kRed) return p - r.base;
    }
    return INT64_MIN;
}
// describe names the buffer an address falls in or near.
static void describe(const void* a, char* out, size_t len) {
    const char* p = (const char*)a;
    for (auto& kv : regions) {
        const Region& r = kv.second;
        if (p >= r.map && p < r.map + r.len) {
            std::snprintf(out, len, "byte %lld of a buffer of %zu bytes", (long long)(p - r.base), r.n);
            return;
        }
    }
    std::snprintf(out, len, "an address outside every buffer");
}
static sigjmp_buf fault_jb;
static const void* fault_addr;
static pthread_t launcher;
static struct sigaction old_segv, old_bus, old_ill;
static int fault_sig;
static void on_fault(int sig, siginfo_t* si, void* uc) {
    if (!pthread_equal(pthread_self(), launcher)) { // not ours: the previous handler's
        struct sigaction* o = sig == SIGSEGV ? &old_segv : sig == SIGBUS ? &old_bus : &old_ill;
        if (o->sa_flags & SA_SIGINFO) o->sa_sigaction(sig, si, uc);
        else if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) o->sa_handler(sig);
        return;
    }
    fault_addr = si->si_addr;
    fault_sig = sig;
    siglongjmp(fault_jb, 1);
}
static int run_grid(int gx, int gy, int gz) {
    for (int z = 0; z < gz; z++)
        for (int y = 0; y < gy; y++)
            for (int x = 0; x < gx; x++) {
                bx = x, by = y, bz = z;
                if (!run_block()) return 1;
            }
    return 0;
}
static int launch(int gx, int gy, int gz, int threads, std::function<void()> f) {
    failed = false;
    err[0] = 0;
    bx = by = bz = 0;
    cur = 0;
    if (threads < 1 || threads > kMaxThreads || gx < 0 || gy < 0 || gz < 0) {
        std::snprintf(err, sizeof err, "bad launch: grid (%d,%d,%d), %d threads", gx, gy, gz, threads);
        return 1;
    }
    if (!stacks) stacks = (char*)std::malloc(size_t(kMaxThreads) * kStack);
    fn = f;
    nthr = threads;
    gdx = gx, gdy = gy, gdz = gz;
    for (int t = 0; t < threads; t++) {
        getcontext(&ctx[t]);
        ctx[t].uc_stack.ss_sp = stacks + size_t(t) * kStack;
        ctx[t].uc_stack.ss_size = kStack;
        ctx[t].uc_link = nullptr;
        makecontext(&ctx[t], (void (*)())entry, 1, t);
        started[t] = false;
    }
    // Memory faults of the kernel become the launch's error: a handler for
    // SIGSEGV and SIGBUS on this thread only, for the launch's duration.
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    launcher = pthread_self();
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGILL, &sa, &old_ill);
    int rc;
    if (sigsetjmp(fault_jb, 1) == 0) {
        rc = run_grid(gx, gy, gz);
    } else {
        if (fault_sig == SIGILL) {
            std::snprintf(err, sizeof err, "block (%u,%u,%u) thread %d: misaligned load or store (a GPU faults on it; trapped by -fsanitize=alignment)", bx, by, bz, cur);
        } else {
            char where[128];
            describe(fault_addr, where, sizeof where);
            std::snprintf(err, sizeof err, "block (%u,%u,%u) thread %d: memory fault reading or writing %s", bx, by, bz, cur, where);
        }
        rc = 1;
    }
    sigaction(SIGSEGV, &old_segv, nullptr);
    sigaction(SIGBUS, &old_bus, nullptr);
    sigaction(SIGILL, &old_ill, nullptr);
    return rc;
}
static float f32(uint64_t bits) { uint32_t u = uint32_t(bits); float f; std::memcpy(&f, &u, 4); return f; }
static float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float f16_to_f32(unsigned short b) {
    uint32_t s = (b & 0x8000u) << 16, e = (b >> 10) & 31, m = b & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return bits_f32(s | 0x7f800000u | (m << 13));
    return bits_f32(s | ((e + 112) << 23) | (m << 13));
}
static unsigned short f32_to_f16(float f) { // nearest even
    uint32_t u = f32_bits(f), s = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (a != a) return (unsigned short)(s | 0x7e00u);
    if (a >= 65520.0f) return (unsigned short)(s | 0x7c00u);
    if (a < 6.103515625e-05f) return (unsigned short)(s | (uint32_t)std::nearbyint(a * 16777216.0f));
    uint32_t e = ((u >> 23) & 255) - 112, m = u & 0x7fffffu;
    uint32_t h = (e << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (unsigned short)(s | h);
}
}
extern "C" void* hrt_alloc(uint64_t n) { return hrt::alloc(n); }
extern "C" void hrt_free(void* p) { hrt::release((char*)p); }
extern "C" int64_t hrt_check(void* p) { return hrt::check((char*)p); }
extern "C" const char* hrt_error() { return hrt::err; }
// P converts to any pointer type: a buffer argument.
struct P {
    uint64_t a;
    template <class U> operator U*() const { return (U*)(uintptr_t)a; }
};
struct dim3_ { unsigned int x, y, z; };
#define threadIdx (dim3_{(unsigned)hrt::cur, 0, 0})
#define blockIdx (dim3_{hrt::bx, hrt::by, hrt::bz})
#define blockDim (dim3_{(unsigned)hrt::nthr, 1, 1})
#define gridDim (dim3_{hrt::gdx, hrt::gdy, hrt::gdz})
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
static void __syncthreads() { hrt::block(hrt::BAR); }
static void __syncwarp(unsigned mask = 0xffffffffu) { float v = 0; hrt::warp_post(mask, &v, sizeof v); }
template <class T> static T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    int ph = hrt::warp_post(mask, &v, sizeof v);
    return hrt::warp_read<T>(ph, src);
}
template <class T> static T __shfl_xor_sync(unsigned mask, T v, int lane, int width = 32) {
    int ph = hrt::warp_post(mask, &v, sizeof v);
    return hrt::warp_read<T>(ph, (hrt::cur & 31) ^ lane);
}
template <class T> static T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    int ph = hrt::warp_post(mask, &v, sizeof v);
    int src = (hrt::cur & 31) + int(d);
    return src < 32 ? hrt::warp_read<T>(ph, src) : v;
}
template <class T> static T __ldg(const T* p) { return *p; }
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct __half { unsigned short bits; };
static __half __ushort_as_half(unsigned short u) { return __half{u}; }
static unsigned short __half_as_ushort(__half h) { return h.bits; }
static float __half2float(__half h) { return hrt::f16_to_f32(h.bits); }
static __half __float2half(float f) { return __half{hrt::f32_to_f16(f)}; }
static __half __float2half_rn(float f) { return __half{hrt::f32_to_f16(f)}; }
static float __uint_as_float(unsigned int u) { return hrt::bits_f32(u); }
static unsigned int __float_as_uint(float f) { return hrt::f32_bits(f); }
static float __int_as_float(int u) { return hrt::bits_f32((uint32_t)u); }
static int __float_as_int(float f) { return (int)hrt::f32_bits(f); }
static float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static int min(int a, int b) { return a < b ? a : b; }
static int max(int a, int b) { return a > b ? a : b; }
`

// HostLibFlags are the clang arguments that compile a HostCUDALib program
// cpp into the shared library lib. Strict aliasing is off: kernels read
// buffers through vector types (uint4, float4) as GPUs allow. Every load
// and store is checked for its type's alignment, as a GPU requires
// (-fsanitize=alignment, trapping: the launch reports it). -O0: a few
// hundred kernel specializations compile four times faster than at -O1,
// and host tests run small shapes.
func HostLibFlags(lib, cpp string) []string {
	return []string{"-x", "c++", "-std=c++17", "-O0", "-fPIC", "-shared", "-fno-strict-aliasing",
		"-fsanitize=alignment", "-fsanitize-trap=alignment",
		"-Wno-unknown-attributes", "-Wno-unknown-pragmas", "-o", lib, cpp}
}
