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
// Matching llama.cpp: OpMatMulQ is OpMatMul with the activations first
// rounded the way llama.cpp's CPU backend quantizes them for the weight's
// dot product (RoundForDot). The reference path uses it, which is what makes
// its logits agree with llama.cpp to ~1e-13 NMSE on Q8_0 models, where exact
// products differ from llama.cpp by ~1e-4.
//
// Conformance: backend/backendtest checks every built-in op of a backend
// against a float64 oracle over a grid of shapes and dtypes; each backend's
// test is one call to backendtest.Run.
package backend
