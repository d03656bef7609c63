// Package synth writes random-weight GGUF models of real shapes: small ones
// that exercise every architecture feature in milliseconds (tiny-llama,
// tiny-qwen2, tiny-qwen3) and one of a real model's full size
// (qwen2.5-0.5b). The files carry complete llama.cpp metadata and a real
// tokenizer vocabulary, so llama.cpp and every metallic path load them.
//
// # Weights
//
// Every tensor is generated from its own stream, so files are reproducible
// bit for bit and tensors can be generated in parallel: tensor NAME uses
// sample.NewRNG(seed XOR FNV-1a-64(NAME)), and each element takes one
// Uint64 from it whose four 16-bit quarters q0…q3 are summed into an
// approximately normal z = (q0+q1+q2+q3 − 131070) / 37837.227 (the
// Irwin–Hall sum of four uniforms, scaled to unit variance; |z| < 3.47).
// An element is mean + std·z with, per tensor kind:
//
//	matrices (K inputs)     mean 0, std 1/√K   (unit-variance outputs)
//	token_embd (untied)     mean 0, std 1
//	token_embd (tied)       mean 0, std LogitStd/√d
//	output.weight           mean 0, std LogitStd/√d
//	norm gains              mean 1, std 0.1
//	q/k biases              mean 0, std 0.5;  v bias: std 0.1
//
// With RMS-normalized hidden states this gives logits of standard
// deviation about LogitStd (4): a real spread without saturating softmax.
//
// # Types
//
// Norm gains and biases are always F32 (as llama.cpp's converters write
// them). Matrices, token_embd and output use the requested type when their
// row length K is a multiple of its block size; otherwise they fall back as
// llama.cpp's quantizer does to a type that fits: Q4_K → Q4_0, Q6_K → Q8_0,
// then F16. The qwen2.5-0.5b preset (d = 896) falls back this way for
// k-quants.
package synth
