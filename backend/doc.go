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
// dot product (RoundForDot). The cpu backend goes further and reproduces
// ggml's own CPU arithmetic (package backend/ggmlnum: its AVX-512 kernels'
// lane order and fused multiply-adds, the repacked Q4_0/Q4_K kernels, its
// polynomial exp, glibc's sinf and cosf): OpMatMulQ for F32, F16, BF16,
// Q8_0, Q4_0, Q4_K and Q6_K weights, OpRMSNorm, OpRope, OpAttention and OpSwiGLU
// are bit-identical to llama.cpp's on an AVX-512 machine, so the reference
// path's logits equal llama.cpp's to the last bit for those models
// (llamacpp's TestOpFidelity checks it op by op).
//
// Conformance: backend/backendtest checks every built-in op of a backend
// against a float64 oracle over a grid of shapes and dtypes; each backend's
// test is one call to backendtest.Run.
package backend
