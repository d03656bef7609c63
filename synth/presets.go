package synth

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/tokenizer"
)

// Preset is the shape of a synthetic model.
type Preset struct {
	Name        string  `json:"name"`
	Arch        string  `json:"arch"`
	Dim         int     `json:"dim"`
	Layers      int     `json:"layers"`
	Heads       int     `json:"heads"`
	KVHeads     int     `json:"kv_heads"`
	HeadDim     int     `json:"head_dim"`
	FF          int     `json:"ff"`
	ContextLen  int     `json:"context_length"`
	RopeBase    float32 `json:"rope_base"`
	NormEps     float32 `json:"norm_eps"`
	Tied        bool    `json:"tied_output"`
	KeyLength   bool    `json:"key_length"` // write attention.key_length/value_length
	Vocab       string  `json:"vocab"`      // "stories260K" or "qwen"
	QwenTokens  int     `json:"qwen_tokens,omitempty"`
	PadVocab    int     `json:"pad_vocab,omitempty"` // pad the vocabulary to this size
	Description string  `json:"description"`
}

// LogitStd is the target standard deviation of the final logits.
const LogitStd = 4

var presets = []Preset{
	{
		Name: "tiny-llama", Arch: "llama", Dim: 256, Layers: 3, Heads: 8, KVHeads: 4, HeadDim: 32, FF: 768,
		ContextLen: 1024, RopeBase: 10000, NormEps: 1e-5, Vocab: "stories260K",
		Description: "llama, normal RoPE, GQA 2, untied output, stories260K's 512-token SentencePiece vocabulary",
	},
	{
		Name: "tiny-qwen2", Arch: "qwen2", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, FF: 768,
		ContextLen: 1024, RopeBase: 1000000, NormEps: 1e-6, Tied: true, Vocab: "qwen", QwenTokens: 1024,
		Description: "qwen2, NeoX RoPE, q/k/v biases, GQA 2, tied output, Qwen BPE sub-vocabulary",
	},
	{
		Name: "tiny-qwen3", Arch: "qwen3", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 128, FF: 768,
		ContextLen: 1024, RopeBase: 1000000, NormEps: 1e-6, Tied: true, KeyLength: true, Vocab: "qwen", QwenTokens: 1024,
		Description: "qwen3, NeoX RoPE, q/k RMSNorm, head_dim 128 ≠ d/heads, GQA 2, tied output, Qwen BPE sub-vocabulary",
	},
	{
		Name: "tiny-qwen2-d384", Arch: "qwen2", Dim: 384, Layers: 2, Heads: 6, KVHeads: 2, HeadDim: 64, FF: 1024,
		ContextLen: 1024, RopeBase: 1000000, NormEps: 1e-6, Tied: true, Vocab: "qwen", QwenTokens: 1024,
		Description: "tiny-qwen2 with d 384, not a multiple of 256: k-quant mixes fall back (Q5_0, Q5_1, Q8_0, IQ4_NL) as on Qwen2.5-0.5B",
	},
	{
		Name: "qwen2.5-0.5b", Arch: "qwen2", Dim: 896, Layers: 24, Heads: 14, KVHeads: 2, HeadDim: 64, FF: 4864,
		ContextLen: 32768, RopeBase: 1000000, NormEps: 1e-6, Tied: true, Vocab: "qwen", QwenTokens: tokenizer.QwenSubVocabTokens + 3, PadVocab: 151936,
		Description: "the shape of Qwen2.5-0.5B: qwen2, GQA 7, tied output, vocabulary padded to 151936",
	},
}

// Presets lists the preset names.
func Presets() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// Lookup returns the named preset.
func Lookup(name string) (Preset, error) {
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
	}
	return Preset{}, fmt.Errorf("synth: unknown preset %q (known: %s)", name, strings.Join(Presets(), ", "))
}
