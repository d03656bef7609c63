// Declarations the hand-written built-in CUDA kernels use beyond clangcheck's device shim (shim/cudadev),
// appended to it when repro_test.go parses a CUDA runner with clang's CUDA mode.
#define __forceinline__ __attribute__((always_inline))
#define __launch_bounds__(...)
__device__ float fmaf(float a, float b, float c);
__device__ int min(int a, int b);
__device__ int max(int a, int b);
__device__ unsigned int __shfl_sync(unsigned int mask, unsigned int v, int lane, int width = 32);
__device__ float __shfl_sync(unsigned int mask, float v, int lane, int width = 32);
__device__ int __shfl_xor_sync(unsigned int mask, int v, int lane, int width = 32);
__device__ float __shfl_down_sync(unsigned int mask, float v, unsigned int d, int width = 32);
__device__ unsigned short __half_as_ushort(__half h);
__device__ __half __float2half_rn(float f);
__device__ float sqrtf(float x);
template <class T> __device__ T __ldg(const T* p);
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct __attribute__((aligned(8))) float2 { float x, y; };
