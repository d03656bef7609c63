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
// with AVX512_BF16). A failure names the op (checkpoint kind), the
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
	for _, c := range reproducedCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.dt == gguf.TypeBF16 {
				testenv.NeedGGMLFeature(t, variant, testenv.AVX512BF16, llamacpp.AVX512BF16Variant(variant))
			} else {
				testenv.NeedGGMLFeature(t, variant, testenv.AVX512, llamacpp.AVX512Variant(variant))
			}
			m := c.open(t)
			v := m.Config.Vocab
			prompt := make([]int32, 23)
			for j := range prompt {
				prompt[j] = int32((1 + 37*j + 11*j*j) % v)
			}
			lc, err := model.OpenPath("llamacpp", m, model.PathOptions{Threads: 1, Ctx: 128})
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			ref, err := model.OpenPath("reference", m, model.PathOptions{Threads: 1, Ctx: 128})
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
		})
	}
}
