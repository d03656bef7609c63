// Package repro writes a self-contained folder that reproduces the
// dispatch producing one checkpoint of one path (paritycheck repro): the
// kernel's sources in every dialect it has, the compile options, the
// launch shapes and argument table of every forward call's dispatch, its
// input buffers as they were just before it ran, the expected output
// (from the float64 oracle the step table judged it with, and from the
// same kernel on the CPU backend) and runners that run it and print the
// step table's error figures:
//
//   - host/: C++ runners built with clang over dsl/kernel/clangcheck's
//     host runtimes (HostCUDALib, HostMSLLib: GPU threads as coroutines,
//     exact per warp / SIMD group), for any machine;
//   - cuda/: a CUDA main built with nvcc with the options the cuda backend
//     gives NVRTC, launching with the backend's grid, block and shared
//     memory;
//   - metal/: an Objective-C++ main that loads the MSL source with the
//     metal backend's compile options and binds the arguments as it does
//     (it needs a Mac; not run here).
//
// A runner prints the figures of the step table's local row (max_abs,
// mean_abs, nmse, cos, max_ulp, …) computed from its own output, the row
// the table showed, and whether its output is bit-identical to the one
// the path produced. Where the runner executes what the path executed
// (the CUDA runner on the GPU of a cuda run, the host MSL runner for a
// run on the host-executed metal backend) the figures are the same;
// otherwise they differ by the two implementations' rounding.
//
// Supported: the dsl path's composed kernels (fused, or one stage of an
// unfused kernel under PathOptions.Unfuse: its checkpoint is then a stage
// checkpoint such as blk.0.q.gemv), with CUDA and MSL sources; and the
// reference path's built-in ops, with the cuda backend's hand-written
// CUDA and the metal backend's hand-written MSL under the plain numerics
// profile (under ggml-cpu the built-in ops exist on the cpu backend only:
// the folder then has no GPU source and no runner).
package repro
