// Package dsl is the fused execution path: a JSON model spec whose forward
// steps compile to kernels composed from stages (package dsl/kernel), run
// on any backend.Backend.
//
// A spec names its architecture, typed variables (literals or values of
// the model's configuration), logical tensors with candidate GGUF names
// ("{i}" stands for the layer variable of an enclosing repeat) and the
// forward steps. Parse validates the whole spec before anything runs:
// an unknown op, tensor or variable, or a value of the wrong type, is a
// *SpecError naming the JSON path of the offending value. Steps register
// by name with RegisterStep; the built-in steps are the fusions
// embed, rmsnorm_qkv, rope_cache, attention, gemv_residual,
// rmsnorm_swiglu and rmsnorm_gemv.
//
// The Executor implements model.Path and registers itself as "dsl". It
// runs under a numerics profile (PathOptions.Numerics, declared by
// Numerics; default ggml-cpu on the cpu backend, plain elsewhere): under
// ggml-cpu its GEMV inputs are rounded as llama.cpp rounds activations for
// the weight's dot product, under plain they are not; its other
// arithmetic (float32 sums in its own order, library exp/sin/cos, RoPE
// angles by llama.cpp's float32 recurrence) is the same under both.
package dsl
