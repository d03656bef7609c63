// Package cuda is the NVIDIA GPU Backend: the CUDA driver API
// (libcuda.so.1) and NVRTC loaded at run time through purego, so the
// program builds with CGO_ENABLED=0 and runs on machines without a CUDA
// toolkit at build time. It registers itself as "cuda"; where there is no
// driver, no device or no NVRTC, backend.Open("cuda") fails with an error
// that starts "cuda: unavailable:" and names the cause.
//
// # Design
//
//   - One device (ordinal 0; pick another with CUDA_VISIBLE_DEVICES), its
//     primary context retained once per process. Every driver call runs on
//     a goroutine locked to its OS thread with the context made current
//     (driver.run), so no call ever finds the wrong context.
//   - Buffers are device memory (cuMemAlloc). Wrap copies the host bytes
//     to the device once: a model's weights are uploaded once and stay in
//     their GGUF encoding (quantized types are decoded by the kernels).
//     Upload and Download are ordered after every committed batch.
//   - Kernels are CUDA C compiled by NVRTC for the device's own
//     architecture (CUBIN; PTX for the driver's JIT only when that fails,
//     and Provenance says so). Built-in ops come from the hand-written
//     kernels of builtin(spec); composed (dsl) kernels carry their source.
//     Modules are cached per process by a hash of source and options.
//   - One stream per Backend. An Encoder records dispatches (kernel, launch
//     shape, packed parameter bytes) and Commit launches them as one batch.
//     A batch whose recorded bytes equal an earlier batch's is replayed as
//     a CUDA graph captured on its second occurrence: decode steps, whose
//     positions live in device memory, become one graph launch each.
//   - Every wait is bounded (METALLIC_CUDA_TIMEOUT) and every error names
//     the driver's error (cuGetErrorName/String) and the kernels involved;
//     METALLIC_CUDA_SYNC=1 waits after each launch to name the failing one.
//   - Profiling mode (SetProfiling) brackets each launch with CUDA events
//     and reports the GPU time of every dispatch (Profile).
//
// The driver sits behind a small interface (driver) so everything above it
// — argument packing, buffer checks, the graph cache, error reporting — is
// plain Go, builds on every platform and is tested on machines without a
// GPU against a fake driver. The tests that need a GPU skip without one
// and fail instead under METALLIC_REQUIRE_CUDA=1; docs/BACKENDS.md says how
// to build them into a standalone binary and run it on a GPU machine.
package cuda
