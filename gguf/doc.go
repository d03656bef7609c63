// Package gguf reads and writes GGUF files, the model format of llama.cpp,
// and converts between ggml's tensor types and float32/float64.
//
// Open maps a file read-only and parses its header: metadata (KV) and
// tensor descriptions (TensorInfo). Tensor bytes are never read by Open;
// File.Data returns zero-copy views into the mapping. Parse does the same
// for a byte slice. Both accept GGUF versions 2 and 3 and check every
// count, length, offset and dimension against the bytes actually present
// before allocating, so a corrupt or hostile file yields an error wrapping
// ErrMalformed or ErrUnsupported that names the problem, never a panic or
// a huge allocation.
//
// The type table (Type) covers every ggml_type id llama.cpp defines.
// Dequantize and DequantizeF64 decode F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 and the k-quants Q2_K … Q8_K, bit-identical to llama.cpp's
// dequantize_row_* in float32 (DequantizeF64 keeps every intermediate in
// float64). Quantize encodes F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and
// Q5_1 exactly as llama.cpp's reference quantizers do, and Q4_K and Q6_K
// with its own deterministic error-minimising scale search. Writer
// produces GGUF v3 files that llama.cpp loads.
//
// The tests compare against llama.cpp itself (testdata/ggml_oracle.c,
// compiled against the installed libggml-base) and against
// github.com/gpustack/gguf-parser-go.
package gguf
