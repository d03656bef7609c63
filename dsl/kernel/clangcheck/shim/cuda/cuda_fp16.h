// Shim of the CUDA device environment for syntax checks with clang: the
// qualifiers, built-in variables and intrinsics generated kernels use, as
// plain C++.
#pragma once
#include <cmath>
#define __global__
#define __device__
#define __shared__ static
struct __half { unsigned short bits; };
float __half2float(__half h);
__half __float2half(float f);
__half __ushort_as_half(unsigned short u);
float __uint_as_float(unsigned int u);
unsigned int __float_as_uint(float f);
float __int_as_float(int u);
float __shfl_xor_sync(unsigned int mask, float v, int lane);
void __syncthreads();
struct dim3_ { unsigned int x, y, z; };
extern dim3_ threadIdx, blockIdx, blockDim;
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
// Used by the hand-written kernels of package cuda (cuda/kernels/*.cu).
#define __forceinline__ inline
#define __launch_bounds__(...)
__half __float2half_rn(float f);
unsigned short __half_as_ushort(__half h);
int __float_as_int(float f);
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
extern dim3_ gridDim;
template <class T> T __shfl_sync(unsigned int mask, T v, int src, int width = 32);
template <class T> T __shfl_xor_sync(unsigned int mask, T v, int lane, int width = 32);
template <class T> T __ldg(const T* p);
void __syncwarp(unsigned int mask = 0xffffffffu);
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
