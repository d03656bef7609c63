package model

import "github.com/metallic-go/metallic/gguf"

// RopeStyle says which dimensions RoPE rotates together.
type RopeStyle int

const (
	// RopeNormal rotates adjacent pairs (2i, 2i+1): llama.
	RopeNormal RopeStyle = iota
	// RopeNeoX rotates (i, i+n/2): qwen2, qwen3.
	RopeNeoX
)

// Config holds an architecture's hyper-parameters, read from GGUF metadata
// with llama.cpp's defaults.
type Config struct {
	Arch       string    // "llama", "qwen2", "qwen3"
	Name       string    // general.name, may be empty
	Dim        int       // embedding_length (d)
	Layers     int       // block_count
	Heads      int       // attention.head_count
	KVHeads    int       // attention.head_count_kv (defaults to Heads)
	HeadDim    int       // attention.key_length, else Dim/Heads
	FF         int       // feed_forward_length
	Vocab      int       // number of rows of token_embd
	ContextLen int       // context_length (trained)
	RopeBase   float32   // rope.freq_base, default 10000
	RopeDim    int       // rope.dimension_count, default HeadDim
	RopeStyle  RopeStyle // NeoX for qwen2/qwen3, normal for llama
	NormEps    float32   // attention.layer_norm_rms_epsilon
	QKVBias    bool      // q/k/v projections carry biases (qwen2)
	QKNorm     bool      // per-head RMSNorm of q and k (qwen3)
	TiedOutput bool      // output.weight absent: LM head is token_embd.weight
}

// Weight is one bound tensor: a view into the mapped file.
//
// Matrices are y[N] = W·x[K], stored as N rows of K contiguous elements
// (GGUF shape [K, N]); vectors (norm gains, biases) have N = 1 and K = length.
// The (K, N) of every weight is decided by the architecture, and Bind checks
// the file against it.
type Weight struct {
	Name string
	Type gguf.Type
	K, N int
	Data []byte // zero-copy view of the tensor bytes
}

// Layer holds the weights of one block. Optional weights have nil Data.
type Layer struct {
	AttnNorm            Weight // (d)
	Q                   Weight // (d -> heads*hd)
	K                   Weight // (d -> kv*hd)
	V                   Weight // (d -> kv*hd)
	QBias, KBias, VBias Weight // qwen2 only
	QNorm, KNorm        Weight // (hd) qwen3 only
	O                   Weight // (heads*hd -> d)
	FFNNorm             Weight // (d)
	Gate                Weight // (d -> ff)
	Up                  Weight // (d -> ff)
	Down                Weight // (ff -> d)
}

// Weights holds every bound tensor of a model.
type Weights struct {
	Embd       Weight // token_embd: Vocab rows of Dim (K = Dim, N = Vocab)
	Layers     []Layer
	OutputNorm Weight // (d)
	Output     Weight // (d -> vocab); equals Embd when tied
}
