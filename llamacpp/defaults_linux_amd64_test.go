package llamacpp_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// llamaDefaults are the options that make a path run as llama.cpp's own
// tools do: f32 activations, an f16 KV cache, flash attention on.
var llamaDefaults = model.PathOptions{Threads: 1, Ctx: 128, KVDType: "f16", FlashAttn: true}

// openLlamaDefaults opens llama.cpp with its own defaults for the KV cache
// and flash attention (llamacpp.Options.LlamaDefaults).
func openLlamaDefaults(t *testing.T, m *model.Model, o model.PathOptions) *llamacpp.Path {
	t.Helper()
	o.KVDType, o.FlashAttn = "", false
	p, err := llamacpp.New(m, llamacpp.Options{PathOptions: o, LlamaDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if e := p.Engine(); e.KV != "f16" || !e.FlashAttn {
		t.Fatalf("llama.cpp's defaults reported as KV %s, flash %v; want f16, on", e.KV, e.FlashAttn)
	}
	return p
}

// TestLlamaDefaultsMatrix is issue 12's acceptance: with --kv f16
// --flash-attn on (f32 activations) the reference path and the llamacpp
// path give logits bit-identical to llama.cpp run with its own defaults
// (f16 KV cache, flash attention auto = on), for stories260K and synth
// tiny-llama/qwen2/qwen3 in F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K:
// every position of prompts of 8, 23 and 64 tokens (64 takes ggml's tiled
// flash kernel, the shorter ones its one-chunk kernel), then 8 greedy
// decode steps (single queries). The reference's bits are promised on an
// AVX-512 libggml-cpu build (BF16 with AVX512_BF16); elsewhere it is held
// to NMSE ≤ 1e-5 (1e-3 for quantized weights), and the two llama.cpp
// contexts are always compared bitwise.
func TestLlamaDefaultsMatrix(t *testing.T) {
	needLib(t)
	variant, err := llamacpp.CPUVariant()
	if err != nil {
		t.Fatal(err)
	}
	exact := llamacpp.AVX512Variant(variant)
	for _, c := range reproducedCases() {
		t.Run(c.name, func(t *testing.T) {
			m := c.open(t)
			bitwise := exact && (c.dt != gguf.TypeBF16 || llamacpp.AVX512BF16Variant(variant))
			limit := 1e-5
			if !bitwise && c.dt != gguf.TypeF32 && c.dt != gguf.TypeF16 {
				limit = 1e-3
			}
			ref, err := model.OpenPath("reference", m, llamaDefaults)
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			lc, err := model.OpenPath("llamacpp", m, llamaDefaults)
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			def := openLlamaDefaults(t, m, llamaDefaults)
			v := m.Config.Vocab
			for i, n := range []int{8, 23, 64} {
				prompt := make([]int32, n)
				for j := range prompt {
					prompt[j] = int32((1 + 37*j + 101*i*i + 11*j*j) % v)
				}
				for _, p := range []model.Path{ref, lc, def} {
					p.Reset()
				}
				toks, pos := prompt, 0
				for step := 0; step <= 8; step++ {
					want, err := def.Forward(toks, pos)
					if err != nil {
						t.Fatal(err)
					}
					got, err := lc.Forward(toks, pos)
					if err != nil {
						t.Fatal(err)
					}
					where := fmt.Sprintf("prompt %d (%d tokens), step %d", i, n, step)
					if d := firstDiff(got, want); d >= 0 {
						t.Fatalf("%s: llamacpp --kv f16 --flash-attn on differs from llama.cpp's defaults at logit %d: %g vs %g", where, d, got[d], want[d])
					}
					r, err := ref.Forward(toks, pos)
					if err != nil {
						t.Fatal(err)
					}
					if bitwise {
						if d := firstDiff(r, want); d >= 0 {
							t.Fatalf("%s: reference logit [%d,%d] = %g, llama.cpp %g (bit identity expected on libggml-cpu-%s; run paritycheck fidelity --kv f16 --flash-attn on)",
								where, d/v, d%v, r[d], want[d], variant)
						}
					} else if e := nmse(r, want); !(e <= limit) {
						t.Errorf("%s: reference logits NMSE %.3g > %g", where, e, limit)
					}
					pos += len(toks)
					toks = []int32{sample.Greedy(want[len(want)-v:])}
				}
			}
		})
	}
}

// TestAttentionConfigs: the two other combinations of --kv and
// --flash-attn (f16 cache without flash attention: ggml's f16 matmuls with
// q and the probabilities rounded to f16; f32 cache with flash attention,
// which llama.cpp casts to f16 first) give the reference llama.cpp's
// logits bit for bit too, on every position of an 8- and a 64-token
// prompt and two decode steps (AVX-512 builds; BF16 with AVX512_BF16;
// elsewhere a case skips, or fails under METALLIC_REQUIRE_ORACLES=1 on a
// CPU with the feature: testenv.NeedGGMLFeature).
func TestAttentionConfigs(t *testing.T) {
	needLib(t)
	variant, err := llamacpp.CPUVariant()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range reproducedCases() {
		for _, o := range []model.PathOptions{{Threads: 1, Ctx: 128, KVDType: "f16"}, {Threads: 1, Ctx: 128, FlashAttn: true}} {
			t.Run(fmt.Sprintf("%s/kv-%s-flash-%v", c.name, model.KVDTypeOf(o), o.FlashAttn), func(t *testing.T) {
				if c.dt == gguf.TypeBF16 {
					testenv.NeedGGMLFeature(t, variant, testenv.AVX512BF16, llamacpp.AVX512BF16Variant(variant))
				} else {
					testenv.NeedGGMLFeature(t, variant, testenv.AVX512, llamacpp.AVX512Variant(variant))
				}
				m := c.open(t)
				ref, err := model.OpenPath("reference", m, o)
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close()
				lc, err := model.OpenPath("llamacpp", m, o)
				if err != nil {
					t.Fatal(err)
				}
				defer lc.Close()
				for _, n := range []int{8, 64} {
					toks := make([]int32, n)
					for j := range toks {
						toks[j] = int32((1 + 37*j + 11*j*j) % m.Config.Vocab)
					}
					ref.Reset()
					lc.Reset()
					for pos, step := 0, 0; step < 3; step++ {
						a, err := ref.Forward(toks, pos)
						if err != nil {
							t.Fatal(err)
						}
						b, err := lc.Forward(toks, pos)
						if err != nil {
							t.Fatal(err)
						}
						if d := firstDiff(a, b); d >= 0 {
							t.Fatalf("%d-token prompt, step %d: logit %d: reference %g, llama.cpp %g", n, step, d, a[d], b[d])
						}
						pos += len(toks)
						toks = []int32{sample.Greedy(b[len(b)-m.Config.Vocab:])}
					}
				}
			})
		}
	}
}

// TestFlashSplitDecode: past 256 cached positions llama.cpp's flash
// attention splits a single query's KV cells into one chunk per thread
// (ggml's split-KV decode), so its decode logits depend on its thread
// count; the reference, given the same thread count, reproduces them bit
// for bit (stories260K, a 300-token prompt, 4 decode steps, 1 and 2
// llama.cpp threads).
func TestFlashSplitDecode(t *testing.T) {
	needLib(t)
	variant, err := llamacpp.CPUVariant()
	if err != nil {
		t.Fatal(err)
	}
	testenv.NeedGGMLFeature(t, variant, testenv.AVX512, llamacpp.AVX512Variant(variant))
	m := storiesModel(t)
	prompt := make([]int32, 300)
	for j := range prompt {
		prompt[j] = int32((1 + 37*j + 11*j*j) % m.Config.Vocab)
	}
	decode := []int32{3, 7, 11, 13}
	var byThreads [][]float32
	for _, threads := range []int{1, 2} {
		o := model.PathOptions{Threads: threads, Ctx: 512, KVDType: "f16", FlashAttn: true}
		var rows [2][]float32
		for i, name := range []string{"reference", "llamacpp"} {
			p, err := model.OpenPath(name, m, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Forward(prompt, 0); err != nil {
				t.Fatal(err)
			}
			for k, tok := range decode {
				lg, err := p.Forward([]int32{tok}, len(prompt)+k)
				if err != nil {
					t.Fatal(err)
				}
				rows[i] = append(rows[i], lg...)
			}
			p.Close()
		}
		if d := firstDiff(rows[0], rows[1]); d >= 0 {
			t.Errorf("%d threads: decode logit %d: reference %g, llama.cpp %g", threads, d, rows[0][d], rows[1][d])
		}
		byThreads = append(byThreads, rows[1])
	}
	if firstDiff(byThreads[0], byThreads[1]) < 0 {
		t.Errorf("llama.cpp's split decode gave the same logits with 1 and 2 threads: the thread dependence the reference reproduces (docs) is gone")
	}
}

// firstDiff returns the first index where a and b differ bitwise, or -1.
func firstDiff(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// nmse is Σ(a−b)²/Σb².
func nmse(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return num / den
}
