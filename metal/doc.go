// Package metal is the Apple GPU Backend: Metal reached through purego's
// Objective-C runtime (purego and purego/objc), so the program builds with
// CGO_ENABLED=0. It registers itself as "metal"; on any platform but
// macOS on Apple silicon backend.Open("metal") fails with "metal: needs
// macOS on Apple silicon, this is linux/amd64" (an ErrUnavailable error).
//
// It has not yet been executed on Apple hardware: docs/BACKENDS.md lists
// what was verified instead, and the commands that run its tests on a Mac.
//
// # Design
//
//   - One device (MTLCreateSystemDefaultDevice, an Apple7-family GPU or
//     later), opened once per process; one command queue per Backend.
//     Every Objective-C message is sent on the calling goroutine locked to
//     its OS thread, inside an autorelease pool drained on that thread.
//   - Buffers are shared storage (MTLStorageModeShared): they implement
//     backend.HostBuffer, so capture and CPU oracles read them without a
//     copy, and Upload/Download are copies after the work in flight. Wrap
//     binds tensors of a mapped model file by offset into one
//     newBufferWithBytesNoCopy wrapping of the page-aligned mapping (GGUF
//     aligns tensors to 32 bytes only); other memory is copied once.
//   - Kernels are MSL compiled at run time (newLibraryWithSource with MSL
//     3.0 and fast math off: mathMode=safe, or fastMathEnabled=NO before
//     macOS 15; Provenance records which), cached as pipelines per process.
//     A compile error carries Metal's whole log. Built-in ops are the
//     hand-written kernels of builtin(spec) (kernels/*.metal, the plain
//     numerics profile); composed (dsl) kernels carry their MSL. Every
//     kernel's parameter list is read from its source (signature.go) and
//     every dispatch checked against it; threadgroup sizes are checked
//     against the pipeline's maxTotalThreadsPerThreadgroup and its SIMD
//     width (32), dynamic threadgroup memory against the device's limit.
//   - An Encoder records dispatches; Commit encodes them into one command
//     buffer with one compute encoder (one per forward call, not per
//     dispatch) and commits it. MTLSize goes by value
//     (dispatchThreadgroups:threadsPerThreadgroup:). Sync waits, bounded
//     by METALLIC_METAL_TIMEOUT, and returns a failed command buffer's
//     error (status, Metal's NSError, its dispatches);
//     METALLIC_METAL_SYNC=1 commits each dispatch alone to name the
//     failing one.
//   - Profiling mode (SetProfiling) commits each dispatch alone and reports
//     its GPUStartTime–GPUEndTime (Profile).
//
// Everything above the Objective-C runtime is plain Go that builds and is
// tested on every platform: the runtime is an interface (objc.go), every
// message the backend sends is declared in one table (msgs.go) checked
// against Apple's metal-cpp headers (testdata/metal-cpp), and the tests
// drive the real Backend against a fake runtime that keeps Metal's
// objects in Go, checks every message (selector, receiver class,
// arguments, autorelease pools, retain counts, the thread) and, on Linux,
// executes the dispatched MSL on the host (dsl/kernel/clangcheck's
// HostMSLLib: threads emulated, exact per SIMD group) so the conformance
// suite runs through the backend's own code against the float64 oracle.
package metal
