package llamacpp_test

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// TestReferenceMatrix is issue 3's agreement matrix: stories260K and synth
// tiny-llama/tiny-qwen2/tiny-qwen3 in F32, F16 and Q8_0 (and BF16, Q4_0,
// Q4_K, Q6_K), three prompts of 8–64 tokens each. It checks the
// final-position logits NMSE of the reference path against llama.cpp
// (≤ 1e-5), that they are bit-identical where the reference reproduces
// llama.cpp's build, and 32-token greedy streams, which must be identical
// or first differ where llama.cpp's top-2 logit gap is a tie (≤ tieEps).
//
// The quantized types are where this is hard: llama.cpp quantizes a
// matmul's activations to 8 bits, so a last-bit difference upstream can
// cross a rounding boundary. The reference reproduces ggml's AVX-512 CPU
// arithmetic (backend/ggmlnum), which makes it bit-identical here.
// Against another libggml-cpu variant (AVX2 and older order their sums
// differently) the quantized types are held to 1e-3 and their streams may
// drift within llama.cpp's top 5, and the test says so.
func TestReferenceMatrix(t *testing.T) {
	needLib(t)
	const (
		nmseLimit = 1e-5
		tieEps    = 0.05
		nGen      = 32
	)
	variant, err := llamacpp.CPUVariant()
	if err != nil {
		t.Fatal(err)
	}
	exact := llamacpp.AVX512Variant(variant)
	prompts := func(vocab int) [][]int32 {
		var out [][]int32
		for i, n := range []int{8, 23, 64} {
			p := make([]int32, n)
			for j := range p {
				p[j] = int32((1 + 37*j + 101*i*i + 11*j*j) % vocab)
			}
			out = append(out, p)
		}
		return out
	}
	cases := reproducedCases()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.open(t)
			limit := nmseLimit
			// Bit identity is promised on an AVX-512 build (BF16: with
			// AVX512_BF16); elsewhere the quantized types flip 8-bit
			// activations and are held to a measured 1e-3.
			feature, bitwise := testenv.AVX512, exact
			if c.dt == gguf.TypeBF16 {
				feature, bitwise = testenv.AVX512BF16, llamacpp.AVX512BF16Variant(variant)
			}
			if !bitwise {
				// The weaker checks below still run; the bits are only
				// unchecked where this CPU cannot have the feature.
				reason, fail := testenv.GGMLFeature(variant, feature, false, testenv.CPUHas(feature), testenv.OraclesRequired())
				if fail {
					t.Fatalf("oracle required (METALLIC_REQUIRE_ORACLES=1): %s", reason)
				}
				t.Logf("%s; quantized types held to NMSE 1e-3", reason)
			}
			loose := !bitwise && c.dt != gguf.TypeF32 && c.dt != gguf.TypeF16
			if loose {
				limit = 1e-3
			}
			ref, err := model.OpenPath("reference", m, model.PathOptions{Threads: 1, Ctx: 128})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			lc, err := model.OpenPath("llamacpp", m, model.PathOptions{Threads: 1, Ctx: 128})
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			v := m.Config.Vocab
			for pi, prompt := range prompts(v) {
				ref.Reset()
				lc.Reset()
				a, err := ref.Forward(prompt, 0)
				if err != nil {
					t.Fatal(err)
				}
				b, err := lc.Forward(prompt, 0)
				if err != nil {
					t.Fatal(err)
				}
				la, lb := a[len(a)-v:], b[len(b)-v:]
				var num, den float64
				for i := range lb {
					d := float64(la[i]) - float64(lb[i])
					num += d * d
					den += float64(lb[i]) * float64(lb[i])
				}
				nmse := num / den
				t.Logf("prompt %d (%d tokens): final logits NMSE %.2e", pi, len(prompt), nmse)
				if !(nmse <= limit) {
					t.Errorf("prompt %d: final-position logits NMSE %.3g > %g", pi, nmse, limit)
				}
				if bitwise {
					for i := range lb {
						if math.Float32bits(la[i]) != math.Float32bits(lb[i]) {
							t.Errorf("prompt %d: final-position logit %d: reference %g, llama.cpp %g (bit identity expected on libggml-cpu-%s; run paritycheck fidelity)", pi, i, la[i], lb[i], variant)
							break
						}
					}
				}
				gr, err := model.Generate(ref, prompt, model.GenerateOptions{MaxTokens: nGen, Sampler: sample.Options{}})
				if err != nil {
					t.Fatal(err)
				}
				gl, err := model.Generate(lc, prompt, model.GenerateOptions{MaxTokens: nGen, Sampler: sample.Options{}})
				if err != nil {
					t.Fatal(err)
				}
				for i := range gl.Tokens {
					if gr.Tokens[i] == gl.Tokens[i] {
						continue
					}
					// First divergence: recompute llama.cpp's logits there.
					ctx := append(append([]int32(nil), prompt...), gl.Tokens[:i]...)
					lc.Reset()
					rows, err := lc.Forward(ctx, 0)
					if err != nil {
						t.Fatal(err)
					}
					last := rows[len(rows)-v:]
					gap := math.Abs(float64(last[gr.Tokens[i]]) - float64(last[gl.Tokens[i]]))
					switch {
					case gap <= tieEps:
						t.Logf("prompt %d: tie_flip at %d (gap %.3g)", pi, i, gap)
					case loose && inTop(last, gr.Tokens[i], 5):
						t.Logf("prompt %d: q8_0 drift at %d on libggml-cpu-%s (reference %d, llama.cpp %d, gap %.3g; reference token in llama.cpp's top-5)",
							pi, i, variant, gr.Tokens[i], gl.Tokens[i], gap)
					default:
						t.Errorf("prompt %d: greedy streams differ at %d (reference %d, llama.cpp %d), logit gap %.3g > tie ε %g",
							pi, i, gr.Tokens[i], gl.Tokens[i], gap, tieEps)
					}
					break
				}
			}
		})
	}
}

// inTop reports whether id is among the k largest logits.
func inTop(logits []float32, id int32, k int) bool {
	above := 0
	for _, x := range logits {
		if x > logits[id] {
			above++
		}
	}
	return above < k
}
