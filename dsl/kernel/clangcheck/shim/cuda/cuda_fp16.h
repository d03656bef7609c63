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
