package synth

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
)

// TestMixTypes checks tensors' types under each mix against llama.cpp's
// rules worked out by hand (src/llama-quant.cpp, llama_tensor_get_type, no
// importance matrix): Qwen2.5-0.5B has 24 layers (use_more_bits: layers
// 0–2, 21–23 and every third from 5), rows of 896 (not a multiple of 256:
// Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q3_K→IQ4_NL) and of 4864 (ffn_down: a
// multiple of 256), and a tied embedding (quantized as the output).
func TestMixTypes(t *testing.T) {
	q05, err := Lookup("qwen2.5-0.5b")
	require.NoError(t, err)
	tiny, err := Lookup("tiny-qwen2")
	require.NoError(t, err)
	cases := []struct {
		mix    string
		p      Preset
		tensor string
		layer  int
		k      int
		vIndex int
		want   gguf.Type
	}{
		{"q4_k_m", q05, "token_embd.weight", -1, 896, 0, gguf.TypeQ8_0}, // output rule, 896 % 256 ≠ 0
		{"q4_k_m", q05, "blk.0.attn_q.weight", 0, 896, 0, gguf.TypeQ5_0},
		{"q4_k_m", q05, "blk.0.attn_v.weight", 0, 896, 0, gguf.TypeQ8_0}, // more bits: Q6_K → Q8_0
		{"q4_k_m", q05, "blk.3.attn_v.weight", 3, 896, 3, gguf.TypeQ5_0}, // Q4_K → Q5_0
		{"q4_k_m", q05, "blk.5.attn_v.weight", 5, 896, 5, gguf.TypeQ8_0}, // (5−3)%3 = 2
		{"q4_k_m", q05, "blk.0.ffn_down.weight", 0, 4864, 1, gguf.TypeQ6_K},
		{"q4_k_m", q05, "blk.3.ffn_down.weight", 3, 4864, 4, gguf.TypeQ4_K},
		{"q4_k_m", q05, "blk.23.ffn_down.weight", 23, 4864, 24, gguf.TypeQ6_K},
		{"q4_k_m", q05, "blk.7.attn_output.weight", 7, 896, 8, gguf.TypeQ5_0},
		{"q5_k_m", q05, "blk.4.ffn_up.weight", 4, 896, 5, gguf.TypeQ5_1}, // Q5_K → Q5_1
		{"q5_k_m", q05, "blk.3.ffn_down.weight", 3, 4864, 4, gguf.TypeQ5_K},
		{"q5_k_m", q05, "blk.2.attn_v.weight", 2, 896, 2, gguf.TypeQ8_0},
		{"q3_k_m", q05, "blk.4.attn_q.weight", 4, 896, 4, gguf.TypeIQ4_NL}, // Q3_K → IQ4_NL
		{"q3_k_m", q05, "blk.1.attn_v.weight", 1, 896, 1, gguf.TypeQ5_1},   // first two: Q5_K → Q5_1
		{"q3_k_m", q05, "blk.2.attn_v.weight", 2, 896, 2, gguf.TypeQ5_0},   // Q4_K → Q5_0
		{"q3_k_m", q05, "blk.9.attn_output.weight", 9, 896, 10, gguf.TypeQ5_0},
		{"q3_k_m", q05, "blk.0.ffn_down.weight", 0, 4864, 1, gguf.TypeQ5_K}, // layer < 24/16
		{"q3_k_m", q05, "blk.1.ffn_down.weight", 1, 4864, 2, gguf.TypeQ4_K},
		{"q3_k_m", q05, "token_embd.weight", -1, 896, 0, gguf.TypeQ8_0},
		{"q8_0", q05, "token_embd.weight", -1, 896, 0, gguf.TypeQ8_0},
		{"q8_0", q05, "blk.0.attn_v.weight", 0, 896, 0, gguf.TypeQ8_0},
		{"q4_k_m", tiny, "token_embd.weight", -1, 256, 0, gguf.TypeQ6_K}, // rows of 256: the output's Q6_K
		{"q4_k_m", tiny, "blk.1.attn_q.weight", 1, 256, 1, gguf.TypeQ4_K},
		{"q3_k_m", tiny, "blk.1.ffn_gate.weight", 1, 256, 2, gguf.TypeQ3_K},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", c.p.Name, c.mix, c.tensor), func(t *testing.T) {
			m, err := lookupMix(c.mix)
			require.NoError(t, err)
			require.Equal(t, c.want, m.mixType(c.p, c.tensor, c.layer, c.k, c.vIndex))
		})
	}
	_, err = lookupMix("q4_k_s")
	require.Error(t, err)
}

// TestMixBuild builds tiny-qwen2-d384 in every mix: the file's types are
// what the rules give and every matrix dequantizes.
func TestMixBuild(t *testing.T) {
	for _, mix := range Mixes() {
		t.Run(mix, func(t *testing.T) {
			w, info, err := Build(Options{Preset: "tiny-qwen2-d384", Mix: mix, Seed: 3})
			require.NoError(t, err)
			require.Equal(t, mix, info.Mix)
			raw, err := w.Bytes()
			require.NoError(t, err)
			f, err := gguf.Parse(raw)
			require.NoError(t, err)
			counts := map[string]int{}
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				if ti.Elements() == int64(ti.Shape[0]) {
					continue // vectors stay F32
				}
				counts[strings.ToLower(ti.Type.String())]++
				out := make([]float32, ti.Elements())
				require.NoError(t, gguf.Dequantize(ti.Type, f.Data(ti), out), ti.Name)
			}
			require.Equal(t, info.Types, counts)
		})
	}
}
