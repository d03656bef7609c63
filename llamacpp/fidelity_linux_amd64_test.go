package llamacpp_test

import (
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// TestOpFidelity checks, op by op, that the reference path's arithmetic
// is llama.cpp's to the bit (backend/ggmlnum) when both see the same
// inputs (teacher forcing): every checkpoint of a 23-token prompt and one
// decode step, for stories260K and synth tiny-llama/qwen2/qwen3 with F32,
// F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K weights (Q4_0 and Q4_K through
// llama.cpp's repacked kernels; BF16 checked bitwise only against a build
// with AVX512_BF16), with each KV-cache type (f32, f16) and attention
// kernel (flash attention off, on): the paths' default (f32, off),
// llama.cpp's own (f16, on) and the two others. A failure names the op
// (checkpoint kind), the
// element and both values. The bits are only promised against ggml's
// AVX-512 CPU kernels: with another libggml-cpu variant a case skips,
// and fails under METALLIC_REQUIRE_ORACLES=1 unless this CPU cannot have
// the feature (testenv.NeedGGMLFeature).
func TestOpFidelity(t *testing.T) {
	needLib(t)
	variant, err := llamacpp.CPUVariant()
	if err != nil {
		t.Fatal(err)
	}
	configs := []struct {
		name string
		o    model.PathOptions
	}{
		{"kv-f32-flash-off", model.PathOptions{Threads: 1, Ctx: 128}},
		{"kv-f16-flash-on", llamaDefaults},
		{"kv-f16-flash-off", model.PathOptions{Threads: 1, Ctx: 128, KVDType: "f16"}},
		{"kv-f32-flash-on", model.PathOptions{Threads: 1, Ctx: 128, FlashAttn: true}},
	}
	for _, c := range reproducedCases() {
		for _, cfg := range configs {
			t.Run(c.name+"/"+cfg.name, func(t *testing.T) {
				if c.dt == gguf.TypeBF16 {
					testenv.NeedGGMLFeature(t, variant, testenv.AVX512BF16, llamacpp.AVX512BF16Variant(variant))
				} else {
					testenv.NeedGGMLFeature(t, variant, testenv.AVX512, llamacpp.AVX512Variant(variant))
				}
				opFidelity(t, c.open(t), cfg.o, variant)
			})
		}
	}
}

// opFidelity teacher-forces the reference on llama.cpp's inputs (a
// 23-token prompt and one decode step) with options o and fails on each op
// that differs from llama.cpp (libggml-cpu-variant).
func opFidelity(t *testing.T, m *model.Model, o model.PathOptions, variant string) {
	t.Helper()
	v := m.Config.Vocab
	prompt := make([]int32, 23)
	for j := range prompt {
		prompt[j] = int32((1 + 37*j + 11*j*j) % v)
	}
	lc, err := model.OpenPath("llamacpp", m, o)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	ref, err := model.OpenPath("reference", m, o)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	f, err := parity.TeacherForce(ref, lc, prompt, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Missing) > 0 {
		t.Errorf("checkpoints llama.cpp has and the reference does not: %v", f.Missing)
	}
	for _, r := range f.Rows {
		if r.Differ == 0 {
			continue
		}
		t.Errorf("op %s: %s@%d: %d of %d values differ from llama.cpp on libggml-cpu-%s, max %d ulp, first %s",
			r.Op, r.Checkpoint, r.Pos, r.Differ, r.Values, variant, r.MaxULP, r.First)
	}
}
