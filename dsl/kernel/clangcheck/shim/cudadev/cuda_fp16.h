// Shim of the CUDA device environment for clang's own CUDA mode (-x cuda
// --cuda-device-only -nocudainc -nocudalib): the execution-space
// attributes, built-in variables (clang's resource header), and
// declarations of the intrinsics and math functions generated kernels use,
// so clang applies CUDA's rules and generates PTX without the toolkit.
#pragma once
#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#include <__clang_cuda_builtin_vars.h>
struct __half { unsigned short x; };
__device__ float __half2float(__half h);
__device__ __half __float2half(float f);
__device__ __half __ushort_as_half(unsigned short u);
__device__ float __uint_as_float(unsigned int u);
__device__ unsigned int __float_as_uint(float f);
__device__ float __int_as_float(int u);
__device__ float __shfl_xor_sync(unsigned int mask, float v, int lane, int width = 32);
__device__ void __syncthreads();
__device__ float rsqrtf(float x);
__device__ float expf(float x);
__device__ float sinf(float x);
__device__ float cosf(float x);
__device__ float powf(float x, float y);
__device__ float tanhf(float x);
__device__ float fmaxf(float x, float y);
__device__ float fminf(float x, float y);
__device__ float fabsf(float x);
__device__ float rintf(float x);
__device__ float roundf(float x);
