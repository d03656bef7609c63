package synth

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/gguf"
)

// A mix is one of llama.cpp's quantization presets (llama-quantize's
// Q4_K_M, Q5_K_M, Q3_K_M, Q8_0): a default type for the matrices, the
// tensors its rules store in another type, and the fallback types of
// rows that are not a multiple of a k-quant's 256-element block. mixType
// follows llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for the
// tensors synth writes, without an importance matrix.
type mix struct {
	name     string
	base     gguf.Type
	fileType uint32 // general.file_type (enum llama_ftype)
}

var mixes = []mix{
	{"q4_k_m", gguf.TypeQ4_K, 15},
	{"q5_k_m", gguf.TypeQ5_K, 17},
	{"q3_k_m", gguf.TypeQ3_K, 12},
	{"q8_0", gguf.TypeQ8_0, 7},
}

// Mixes lists the names Options.Mix accepts.
func Mixes() []string {
	var names []string
	for _, m := range mixes {
		names = append(names, m.name)
	}
	return names
}

func lookupMix(name string) (mix, error) {
	for _, m := range mixes {
		if m.name == strings.ToLower(name) {
			return m, nil
		}
	}
	return mix{}, fmt.Errorf("synth: unknown mix %q (want one of %s)", name, strings.Join(Mixes(), ", "))
}

// useMoreBits is llama.cpp's use_more_bits: the first and last eighth of
// the layers and every third one between get the larger type.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// mixType returns the type llama.cpp's quantizer stores a matrix in under
// mix m: name is the tensor's GGUF name, layer its block (−1 outside
// blocks), k its row length; vIndex counts the attn_v tensors before this
// one (llama.cpp's i_attention_wv).
func (m mix) mixType(p Preset, name string, layer, k, vIndex int) gguf.Type {
	t := m.base
	n := p.Layers
	switch {
	case name == "output.weight" || (p.Tied && name == "token_embd.weight"):
		// The output (or a tied embedding): Q6_K, or Q8_0 when the rows
		// do not fit the default type's blocks or the default is Q8_0.
		if k%m.base.BlockSize() != 0 {
			t = gguf.TypeQ8_0
		} else if t != gguf.TypeQ8_0 {
			t = gguf.TypeQ6_K
		}
	case name == "token_embd.weight":
		// Untied embeddings keep the default type for these presets.
	case strings.HasSuffix(name, "attn_v.weight"):
		switch m.name {
		case "q3_k_m":
			t = gguf.TypeQ4_K
			if vIndex < 2 {
				t = gguf.TypeQ5_K
			}
		case "q4_k_m", "q5_k_m":
			if useMoreBits(vIndex, n) {
				t = gguf.TypeQ6_K
			}
		}
	case strings.HasSuffix(name, "ffn_down.weight"):
		switch m.name {
		case "q3_k_m":
			t = gguf.TypeQ4_K // llama.cpp: not falcon, so Q4_K past the first 1/16
			if layer < n/16 {
				t = gguf.TypeQ5_K
			}
		case "q4_k_m", "q5_k_m":
			if useMoreBits(layer, n) {
				t = gguf.TypeQ6_K
			}
		}
	case strings.HasSuffix(name, "attn_output.weight"):
		if m.name == "q3_k_m" {
			t = gguf.TypeQ4_K
		}
	}
	return fallback(t, k)
}

// fallback is llama.cpp's convert_incompatible_tensor: a type whose block
// does not divide the row length k is replaced (Q2_K, Q3_K → IQ4_NL;
// Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0), and F16 when even that does not
// fit.
func fallback(t gguf.Type, k int) gguf.Type {
	if k%t.BlockSize() == 0 {
		return t
	}
	switch t {
	case gguf.TypeQ2_K, gguf.TypeQ3_K:
		t = gguf.TypeIQ4_NL
	case gguf.TypeQ4_K:
		t = gguf.TypeQ5_0
	case gguf.TypeQ5_K:
		t = gguf.TypeQ5_1
	case gguf.TypeQ6_K:
		t = gguf.TypeQ8_0
	}
	if k%t.BlockSize() != 0 {
		t = gguf.TypeF16
	}
	return t
}
