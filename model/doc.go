// Package model knows the supported architectures (llama, qwen2, qwen3): it
// reads their hyper-parameters from GGUF metadata, binds their weights
// strictly, and defines Path, the interface every execution path
// (reference, dsl, llamacpp) implements so the parity harness can drive them
// alike.
//
// It also holds the one description of the forward that every path, the
// float64 oracle and the llama.cpp capture share: the checkpoint graph
// (NewGraph), each checkpoint kind with its op, inputs, weights, width as a
// function of the Config, and llama.cpp tensor name.
package model
