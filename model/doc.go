// Package model knows the supported architectures (llama, qwen2, qwen3): it
// reads their hyper-parameters from GGUF metadata, binds their weights
// strictly, and defines Path, the interface every execution path
// (reference, dsl, llamacpp) implements so the parity harness can drive them
// alike.
package model
