// Package llamacpp runs models through llama.cpp, loaded at run time with
// purego (no cgo: it builds and runs with CGO_ENABLED=0), as the third,
// independent execution path of the parity harness. Importing the package
// registers the path "llamacpp" with model.RegisterPath.
//
// # The pinned build
//
// The package drives one build only: the prebuilt CPU libraries of npm
// @node-llama-cpp/linux-x64@3.22.1 (bins/linux-x64: libggml-base.so,
// libggml.v0.5.0.so, libllama.v0.5.0.so and the libggml-cpu-*.so variants;
// _nlcBuildMetadata.json names llama.cpp release "v0.5.0"). It is
// identified by llama_version() = "0.5.0-dev", ggml_version() = "0.25.1"
// and ggml_commit() = "0ad4a86" (PinLlamaVersion, PinGGMLVersion,
// PinGGMLCommit). On loading, the package refuses with an error, before
// any model is touched, when
//
//   - a library file is missing from the folder or a symbol is missing;
//   - the version strings differ from the pin;
//   - llama_model_default_params() (80 bytes) or
//     llama_context_default_params() (160 bytes; flash_attn_type at offset
//     52, cb_eval at 88) return values other than the pinned build's
//     defaults, read through the Go mirrors of the structs (a shifted or
//     resized layout shows up as wrong defaults);
//   - a tensor made with ggml_new_tensor_4d does not have type, ne, nb, op,
//     src, data and name at the offsets the eval callback reads, or
//     ggml_tensor_overhead() differs from 368.
//
// llama_batch (56 bytes) is allocated by llama_batch_init and passed by
// value. The library loads only on linux/amd64; on other platforms the
// package builds and Available, New and OpenVocab return an "unavailable
// on GOOS/GOARCH" error.
//
// # Finding the libraries
//
// The folder is, in order: Options.LibDir (or PathOptions.LibDir); the
// environment variable METALLIC_LLAMACPP_DIR; CacheDir
// (.cache/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64, where
// scripts/setup.sh installs the package) under the first folder holding a
// go.mod found walking up from the working directory, then from the
// running executable. The libraries are loaded once per process: a
// failure is remembered per folder, and once one folder has loaded,
// asking for another is an error. Loading calls llama_log_set first (so
// nothing is printed), then ggml_backend_load_all_from_path(folder), which
// picks the CPU variant for this machine, then llama_backend_init.
//
// llama.cpp's log is dropped unless METALLIC_LLAMACPP_LOG=1, which copies it
// to stderr; its recent warnings and errors are appended to the package's
// error messages ("llama.cpp said: unknown model architecture: 'x'").
//
// # The path
//
// New loads the model file with llama_model_load_from_file (CPU only) and
// creates a context with n_ctx = Ctx, n_batch = n_ubatch = Batch, one
// sequence, n_threads = n_threads_batch = Threads, flash_attn_type from
// PathOptions.FlashAttn (off by default: attention is the kq / soft_max /
// kqv graph; on: GGML_OP_FLASH_ATTN_EXT, to which llama.cpp casts an f32
// cache to f16 first) and type_k = type_v from model.KVDTypeOf (the
// activations' dtype by default, f32). Options.LlamaDefaults keeps
// llama.cpp's own defaults instead (f16, flash attention auto, which is on
// for the CPU backend). Path.Engine reports what llama.cpp runs with.
// Forward fills a
// llama_batch with logits requested for every position, calls llama_decode
// and returns the rows of llama_get_logits_ith unchanged. Reset calls
// llama_memory_clear. Tokenize, Piece and Detokenize on Vocab wrap
// llama_tokenize, llama_token_to_piece and llama_detokenize.
//
// # Checkpoints
//
// With a hook installed, the context's cb_eval callback is asked about
// every graph node. Names repeat in llama.cpp's graph (Qcur-L is the
// projection, its bias ADD, a RESHAPE view and the ROPE result), so a node
// is mapped by its name without the "-L" suffix and its ggml op, as the
// checkpoint graph gives them (model.NewGraph, Node.Llama: Qcur MUL_MAT for
// q, or ADD when the model has q/k/v biases; Qcur ROPE for q_rope; kqv_out
// CONT (RESHAPE with flash attention) for attn_out; ffn_swiglu GLU for
// ffn_act; result_norm MUL for output_norm; result_output MUL_MAT for
// logits; …). attn_proj has no name of its own (attn_out-L for llama, unnamed for qwen2/qwen3): it is the
// MUL_MAT that takes kqv_out-L as a source, as its graph node says.
//
// A second node mapping to one checkpoint in a forward call is an error.
// Tensors are copied with ggml_backend_tensor_get, read through their nb
// strides (F32 or F16) and delivered row-major [T, n]: Qcur's [hd, heads,
// T] becomes T rows of heads·hd. When the hook changes Data, the values are
// written back (rounded to the tensor's type) with ggml_backend_tensor_set
// before the graph continues, so perturbations propagate. Asking for a
// node splits the graph there; on the CPU backend that does not change any
// result (tests check the logits are bit-identical with and without a
// hook). Not mapped: the intermediate RMS_NORM outputs (norm-L), the
// attention scores kq-L and kq_soft_max-L (shape [kv cells, T, heads], not
// a per-position checkpoint).
//
// Forward calls longer than Batch are split into several llama_decode
// calls; each delivers its own checkpoints with Tensor.Pos set to its
// first position.
//
// # Environment
//
//	METALLIC_LLAMACPP_DIR   library folder (see above)
//	METALLIC_LLAMACPP_LOG=1 forward llama.cpp's log to stderr
//	METALLIC_REQUIRE_ORACLES=1 makes the tests fail, not skip, when the
//	                        library does not load
package llamacpp
