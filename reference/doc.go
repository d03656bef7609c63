// Package reference is the hand-written execution path: one plain kernel
// per op (the built-in ops of package backend) and one forward function per
// architecture (llama.go, qwen2.go, qwen3.go) that reads top to bottom like
// llama2.c's forward(), with the shape of every tensor in a comment.
//
// A Context keeps a KV cache of opts.Ctx positions; Forward runs T tokens in
// one call (GEMM over T rows for a prompt, GEMV for one token) and appends
// their keys and values. Activations and the KV cache are stored in f32 or
// f16 (PathOptions.ActDType); arithmetic accumulates in float32; logits are
// always float32. Every op is computed under one numerics profile
// (PathOptions.Numerics, declared by Numerics; default ggml-cpu on the cpu
// backend, plain elsewhere; backend/numerics.go). Under ggml-cpu the
// arithmetic is llama.cpp's: the activations of a matrix product are
// rounded as llama.cpp quantizes them for the weight's dot product
// (backend.OpMatMulQ: f16 for F16 weights, Q8_0 blocks for the 32-element
// quants, Q8_K for k-quants; nothing for F32), and the cpu backend sums in
// ggml's order (backend/ggmlnum), so on an AVX-512 machine the logits of
// F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K models are bit-identical to
// llama.cpp's. Under plain the projections are backend.OpMatMul
// (activations multiplied as stored) and every op follows the portable
// plain contract, which every backend implements.
// With a hook installed every checkpoint of DESIGN.md is
// downloaded as stored, handed to the hook and written back, so observing
// changes nothing and a modifying hook perturbs the rest of the forward.
//
// The package registers itself as the "reference" path.
package reference
