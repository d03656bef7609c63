// A stub of the CUDA runtime API the CUDA runner calls, for parsing cuda/runner.cu with clang's CUDA
// mode (-nocudainc) where there is no toolkit (repro_test.go); declarations only.
#pragma once
#include <cstddef>
struct dim3 { unsigned x, y, z; dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {} };
typedef int cudaError_t;
typedef void* cudaStream_t;
enum { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind k);
cudaError_t cudaGetLastError();
cudaError_t cudaDeviceSynchronize();
const char* cudaGetErrorString(cudaError_t e);
template <class T> cudaError_t cudaFuncSetAttribute(T* f, cudaFuncAttribute a, int v);
cudaError_t cudaConfigureCall(dim3 g, dim3 b, size_t shared = 0, cudaStream_t s = 0);
extern "C" cudaError_t cudaLaunchKernel(const void* f, dim3 g, dim3 b, void** args, size_t shared, cudaStream_t s);
