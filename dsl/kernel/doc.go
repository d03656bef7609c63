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
// dynamic parameters from dispatch variables ("$pos").
//
// Compose validates what it emits: undefined variables (used out of
// scope, from another kernel, or unbound template placeholders),
// unbalanced braces and colliding argument indices are errors.
package kernel
