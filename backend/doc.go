// Package backend defines Backend, the small interface every compute device
// implements (cpu here; metal and cuda in their own packages), and a
// registry of backends by name.
//
// # Design
//
// The interface is shaped after what GPUs need, so the CPU, Metal and CUDA
// implement it alike and the execution paths (reference, dsl) never branch
// on the device:
//
//   - Buffers are opaque device memory: Alloc, Upload, Download, Free.
//     Wrap turns host memory (the mmap'd weights) into a buffer; on the CPU
//     it aliases, so weights are read straight from the mapping and never
//     dequantized as whole matrices.
//   - Kernels are loaded once from a KernelSpec: either a built-in op by name
//     (ops.go documents each op's arguments and grid, the contract every
//     backend honors) specialized by weight dtype and activation storage
//     dtype, or a kernel composed by dsl that carries its own MSL, CUDA and
//     CPU implementations.
//   - Dispatch takes typed arguments (buffers at byte offsets, int and
//     float scalars) and a Grid of work items. A work item computes whole
//     outputs (one GPU threadgroup; one call range on the CPU), so no output
//     is reduced across items and results are bit-identical for any number
//     of CPU threads.
//   - Dispatches are batched in an Encoder (one per forward call), committed
//     without waiting; Sync, Upload and Download wait. This is Metal's
//     command buffer and CUDA's stream; the cpu backend simply runs each
//     dispatch as it is recorded.
//
// Numerics profiles (numerics.go): every built-in op is loaded under a
// named profile (KernelSpec.Numerics), and a backend lists the profiles it
// implements (Backend.Numerics); Load refuses any other, never falling
// back. Plain is the portable float32 contract every backend implements
// (numerics.go states it op by op, with its bounds against a float64
// oracle). GGMLCPU reproduces the arithmetic of ggml's CPU kernels bit
// for bit; only backend/cpu implements it, with the help of package
// backend/ggmlnum (ggml's lane orders and fused multiply-adds, its
// activation quantization for OpMatMulQ, its polynomial exp, glibc's
// sinf and cosf). Under GGMLCPU the reference path's logits equal
// llama.cpp's to the last bit on an AVX-512 machine (llamacpp's
// TestOpFidelity checks it op by op).
//
// This package is the interface only: it imports the standard library and
// gguf (weight dtypes), no implementation; each backend and ggmlnum live
// in their own packages (a test holds `go list -deps` to that).
//
// Conformance: backend/backendtest checks every built-in op of a backend
// against a float64 oracle over a grid of shapes and dtypes; each backend's
// test is one call to backendtest.Run.
package backend
