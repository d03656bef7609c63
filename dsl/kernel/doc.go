// Package kernel composes fused compute kernels from stages.
//
// A stage is a prologue (it transforms the main stage's input vector: an
// RMSNorm scale, an embedding gather, a RoPE rotation), a main body (GEMV
// for every weight dtype, attention, copy/gather/scatter) or an epilogue
// (it transforms each output value before the store: bias, residual with
// alpha/beta, SwiGLU, GELU, softmax, a SIMD reduce ladder). Compose joins
// prologues, one main and epilogues into one Kernel carrying Metal Shading
// Language and CUDA C sources (emitted through the typed Builder, where
// every variable is a Go value), a CPU implementation that runs the stages
// fused per work item, the argument table and a dispatch preset.
//
// Kernel arguments are declared by each stage as a Go struct whose fields
// are Buf, IntParam or FloatParam handles tagged `dsl:"buffer"`,
// `dsl:"buffer,output"`, `dsl:"param"`, `dsl:"param,dynamic,var=pos"` or
// `dsl:"skip"` (options name= and index= override the defaults). Compose
// assigns argument indices in declaration order (arguments of the same
// name are shared between stages), generates a parameter struct per stage
// in both dialects, and the kernel's Bind resolves arguments by name, or
// from dispatch variables ("$tokens", "$vars").
//
// Positions are read from device memory: the vars buffer (vars.go) holds
// the forward call's first position, so a decode step's launches do not
// change from one position to the next and a GPU backend can replay them
// as one captured graph.
//
// The GEMV main has two GPU forms (gemv.go): a SIMD group per output row
// with 16-byte weight loads decoded in registers (decode; gemv_gpu.go,
// units.go) and a tiled GEMM staging weight and input tiles in threadgroup
// memory (prefill; gemm_gpu.go). Attention deals keys to the SIMD groups
// of a threadgroup and combines their partial softmaxes in a fixed order
// (attention.go).
//
// Compose validates what it emits: undefined variables (used out of
// scope, from another kernel, or unbound template placeholders),
// unbalanced braces and colliding argument indices are errors.
package kernel
