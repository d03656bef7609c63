package clangcheck

import "strings"

// MSLAttributes respells the attribute [[threadgroup(N)]] of a kernel
// argument as [[threadgroup_index(N)]], so sources can be compiled where
// threadgroup is a macro (the shims and HostMSLLib define it). Every other
// attribute is left for clang to ignore (-Wno-unknown-attributes).
func MSLAttributes(src string) string {
	return strings.ReplaceAll(src, "[[threadgroup(", "[[threadgroup_index(")
}

// hostLibCore is the part of HostCUDALib that is not CUDA: the
// coroutine scheduler, exact per group of 32 threads, the guarded buffers,
// the fault handling and the f16 conversions (namespace hrt). HostMSLLib
// shares it, with its messages in Metal's words.
var hostLibCore = func() string {
	core, _, ok := strings.Cut(HostCUDALib, "extern \"C\" void* hrt_alloc")
	if !ok {
		panic("clangcheck: HostCUDALib has no hrt_alloc export to cut at")
	}
	return strings.NewReplacer(
		"__syncthreads after some threads", "threadgroup_barrier after some threads",
		"lane at __syncthreads while its warp", "lane at threadgroup_barrier while its SIMD group",
		"while its warp waits", "while its SIMD group waits",
		"warp collective with a partial mask (the kernels use full warps only)", "SIMD-group function with a partial mask",
		"warp collective in a block that is not whole warps", "SIMD-group function in a threadgroup that is not whole SIMD groups of 32",
		"(a GPU faults on it; trapped by -fsanitize=alignment)", "(undefined on a GPU; trapped by -fsanitize=alignment)",
		"block (%u,%u,%u) thread %d", "threadgroup (%u,%u,%u) thread %d",
	).Replace(core)
}()

// HostMSLLib is a C++ prelude that builds Metal Shading Language kernels
// into a host shared library (compile with HostLibFlags; pass every
// source through MSLAttributes) whose launches a Go test calls through
// purego: the MSL counterpart of HostCUDALib, exact per SIMD group of 32
// threads (the width of every Apple GPU):
//
//   - The threads of a threadgroup are coroutines run until they block: at
//     threadgroup_barrier (released when every thread of the threadgroup
//     is there), at a SIMD-group function (simd_shuffle, simd_shuffle_xor,
//     simd_shuffle_down, simdgroup_barrier: released when all 32 lanes of
//     its SIMD group are there) or when they finish. Divergence that is
//     undefined on a GPU (a shuffle whose SIMD group has lanes elsewhere, a
//     barrier after some threads returned, a threadgroup that is not whole
//     SIMD groups) fails the launch.
//   - Address spaces are plain memory: device, constant and thread vanish,
//     threadgroup too, so threadgroup memory must be a [[threadgroup(0)]]
//     argument: the launch allocates it (guarded, filled with 0xff bytes, a
//     NaN pattern, so a read before a write shows) and hrt::tgmem() passes
//     it. Define HRT_MSL_STATIC_THREADGROUP before the prelude for kernels
//     that declare threadgroup arrays at kernel scope instead (threadgroup
//     then means static: one copy, shared by the threads of a threadgroup;
//     threadgroups run one after another).
//   - half is a struct of IEEE binary16 bits converted to and from float
//     with round to nearest even (as MSL's conversions); the vector types
//     are clang vectors with MSL's sizes and alignments; as_type copies
//     bits. precise::exp, sin, cos, pow and sqrt are the C library's float
//     functions, fma is fused.
//
// A kernel is launched with hrt::launch(gx, gy, gz, threads, f), f calling
// it with hrt::tg() (its threadgroup position), hrt::tid() (thread index
// in the threadgroup) and hrt::ntg() (threads per threadgroup) after
// hrt::tg_begin(); P{address} passes a buffer argument. hrt_msl_tgmem(n)
// sets the threadgroup memory of the next launches. Exported helpers as HostCUDALib's: hrt_alloc,
// hrt_check, hrt_free, hrt_error.
var HostMSLLib = hostLibCore + `extern "C" void* hrt_alloc(uint64_t n) { return hrt::alloc(n); }
extern "C" void hrt_free(void* p) { hrt::release((char*)p); }
extern "C" int64_t hrt_check(void* p) { return hrt::check((char*)p); }
extern "C" const char* hrt_error() { return hrt::err; }
// P converts to any pointer type: a buffer argument.
struct P {
    uint64_t a;
    template <class U> operator U*() const { return (U*)(uintptr_t)a; }
};
#define kernel
#define device
#define constant const
#define thread
#ifdef HRT_MSL_STATIC_THREADGROUP
#define threadgroup static
#else
#define threadgroup
#endif
namespace metal {
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef float float2 __attribute__((ext_vector_type(2)));
typedef float float3 __attribute__((ext_vector_type(3)));
typedef float float4 __attribute__((ext_vector_type(4)));
typedef int int2 __attribute__((ext_vector_type(2)));
typedef int int4 __attribute__((ext_vector_type(4)));
typedef uint uint2 __attribute__((ext_vector_type(2)));
typedef uint uint3 __attribute__((ext_vector_type(3)));
typedef uint uint4 __attribute__((ext_vector_type(4)));
typedef ushort ushort2 __attribute__((ext_vector_type(2)));
typedef ushort ushort4 __attribute__((ext_vector_type(4)));
struct half {
    unsigned short bits;
    half() = default;
    explicit half(float f) : bits(hrt::f32_to_f16(f)) {}
    operator float() const { return hrt::f16_to_f32(bits); }
};
enum class mem_flags { mem_none, mem_device, mem_threadgroup };
inline void threadgroup_barrier(mem_flags) { hrt::block(hrt::BAR); }
inline void simdgroup_barrier(mem_flags) { float v = 0; hrt::warp_post(0xffffffffu, &v, sizeof v); }
template <class T> inline T simd_shuffle(T v, ushort lane) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    int ph = hrt::warp_post(0xffffffffu, &v, sizeof v);
    return hrt::warp_read<T>(ph, lane);
}
template <class T> inline T simd_shuffle_xor(T v, ushort mask) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    int ph = hrt::warp_post(0xffffffffu, &v, sizeof v);
    return hrt::warp_read<T>(ph, (hrt::cur & 31) ^ mask);
}
template <class T> inline T simd_shuffle_down(T v, ushort delta) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    int ph = hrt::warp_post(0xffffffffu, &v, sizeof v);
    int src = (hrt::cur & 31) + int(delta);
    return src < 32 ? hrt::warp_read<T>(ph, src) : v;
}
template <typename T, typename U> inline T as_type(U u) {
    static_assert(sizeof(T) == sizeof(U), "as_type sizes");
    T t;
    std::memcpy(&t, &u, sizeof t);
    return t;
}
inline float fma(float a, float b, float c) { return std::fma(a, b, c); }
inline float fmax(float a, float b) { return std::fmax(a, b); }
inline float fmin(float a, float b) { return std::fmin(a, b); }
inline float fabs(float x) { return std::fabs(x); }
inline float exp(float x) { return std::exp(x); }
inline float cos(float x) { return std::cos(x); }
inline float sin(float x) { return std::sin(x); }
inline float pow(float x, float y) { return std::pow(x, y); }
inline float tanh(float x) { return std::tanh(x); }
inline float sqrt(float x) { return std::sqrt(x); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline float round(float x) { return std::round(x); }
inline float rint(float x) { return std::rint(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline uint min(uint a, uint b) { return a < b ? a : b; }
inline uint max(uint a, uint b) { return a > b ? a : b; }
inline float min(float a, float b) { return a < b ? a : b; }
inline float max(float a, float b) { return a > b ? a : b; }
namespace precise {
inline float exp(float x) { return std::exp(x); }
inline float sin(float x) { return std::sin(x); }
inline float cos(float x) { return std::cos(x); }
inline float pow(float x, float y) { return std::pow(x, y); }
inline float sqrt(float x) { return std::sqrt(x); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline float divide(float x, float y) { return x / y; }
}
}
namespace hrt {
static char* tgmem_buf;
static size_t tgmem_len;
inline metal::uint3 tg() { return metal::uint3{bx, by, bz}; }
inline metal::uint tid() { return (metal::uint)cur; }
inline metal::uint3 ntg() { return metal::uint3{(metal::uint)nthr, 1, 1}; }
// tgmem is the launch's threadgroup memory (Metal leaves it undefined).
inline float* tgmem() { return (float*)tgmem_buf; }
// tg_begin refills the threadgroup memory with 0xff bytes when thread 0
// starts: the scheduler runs thread 0 of a threadgroup first, so no other
// thread of it has run yet. A launcher calls it before the kernel.
inline void tg_begin() {
    if (cur == 0 && tgmem_buf) std::memset(tgmem_buf, 0xff, tgmem_len);
}
}
// hrt_msl_tgmem sets the threadgroup memory of the next launches (0: none).
extern "C" int hrt_msl_tgmem(uint64_t n) {
    if (hrt::tgmem_buf) hrt::release(hrt::tgmem_buf);
    hrt::tgmem_buf = nullptr;
    hrt::tgmem_len = n;
    if (n == 0) return 0;
    hrt::tgmem_buf = hrt::alloc(n);
    return hrt::tgmem_buf ? 0 : 1;
}
using namespace metal;
`
