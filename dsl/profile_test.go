package dsl

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

var plainOnce sync.Once

// registerPlainOnly adds "plainonly": cpu presented as a backend that
// implements only plain, as a GPU backend does.
func registerPlainOnly() {
	plainOnce.Do(func() {
		backend.Register("plainonly", func(o backend.Options) (backend.Backend, error) {
			return backendtest.Restrict(cpu.New(o), "plainonly", backend.Plain), nil
		})
	})
}

// TestNumericsSelection: the dsl computes under the profile asked for
// (default ggml-cpu on cpu, plain elsewhere) and declares it. Only under
// ggml-cpu do its GEMV inputs get llama.cpp's rounding (the q projection
// differs between profiles on a Q8_0 model, not on an F32 one, where the
// rounding is the identity) and its RoPE angles llama.cpp's recurrence
// (q_rope differs on both); only under plain does it compose the tiled
// GEMM form. The generated MSL and CUDA say the same; a backend lacking
// the profile fails the open naming it.
func TestNumericsSelection(t *testing.T) {
	registerPlainOnly()
	tokens := []int32{5, 17, 96, 0, 42}
	for _, dt := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeF32} {
		m := tinyOf("qwen2", dt).open(t)
		cps := map[string]map[string][]float32{}
		for _, c := range []struct{ backend, ask, want string }{
			{"cpu", "", "ggml-cpu"}, {"cpu", "plain", "plain"}, {"plainonly", "", "plain"},
		} {
			e, err := New(m, Options{PathOptions: model.PathOptions{Backend: c.backend, Numerics: c.ask, Ctx: 8}})
			if err != nil {
				t.Fatalf("%v %s/%q: %v", dt, c.backend, c.ask, err)
			}
			if e.Numerics() != c.want {
				t.Errorf("%v %s/%q: Numerics() = %q, want %q", dt, c.backend, c.ask, e.Numerics(), c.want)
			}
			rounds, plainRope, recurrence, tiled := false, false, false, false
			for _, k := range e.Kernels() {
				// Calls beyond the helpers' definitions.
				msl, cuda := strings.Count(k.MSL, "rnd_q8_0(") > 1, strings.Count(k.CUDA, "rnd_q8_0(") > 1
				if msl != cuda {
					t.Errorf("%v %s: kernel %s rounds in MSL %v, in CUDA %v", dt, c.want, k.Name, msl, cuda)
				}
				rounds = rounds || msl
				for _, src := range []string{k.MSL, k.CUDA} {
					plainRope = plainRope || strings.Count(src, "rope_mix_plain(") > 1
					recurrence = recurrence || strings.Count(src, "rope_mix(") > 1
				}
				tiled = tiled || strings.Contains(k.Name, "_tiled_")
			}
			if want := c.want == "ggml-cpu" && dt == gguf.TypeQ8_0; rounds != want {
				t.Errorf("%v %s: generated GEMV sources round their inputs: %v, want %v", dt, c.want, rounds, want)
			}
			if plainRope != (c.want == "plain") || recurrence != (c.want == "ggml-cpu") || tiled != (c.want == "plain") {
				t.Errorf("%v %s: sources use powf angles %v, the recurrence %v, tiled GEMMs %v", dt, c.want, plainRope, recurrence, tiled)
			}
			got := map[string][]float32{}
			e.SetHook(func(ts *model.Tensor) {
				if ts.Name == "blk.0.v" || ts.Name == "blk.0.q_rope" || ts.Name == "logits" {
					got[ts.Name] = append([]float32(nil), ts.Data...)
				}
			})
			_, err = e.Forward(tokens, 0)
			e.Close()
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := cps[c.want]; ok && !slices.Equal(prev["logits"], got["logits"]) {
				t.Errorf("%v: %s logits differ between backends", dt, c.want)
			}
			cps[c.want] = got
		}
		p, g := cps["plain"], cps["ggml-cpu"]
		if same := slices.Equal(p["blk.0.v"], g["blk.0.v"]); same != (dt == gguf.TypeF32) {
			t.Errorf("%v: plain and ggml-cpu v identical = %v, want %v (rounding changes only non-F32 GEMVs)", dt, same, dt == gguf.TypeF32)
		}
		if slices.Equal(p["blk.0.q_rope"], g["blk.0.q_rope"]) {
			t.Errorf("%v: plain and ggml-cpu q_rope identical: the RoPE angles should differ", dt)
		}
	}
	m := tinyOf("qwen2", gguf.TypeQ8_0).open(t)
	_, err := New(m, Options{PathOptions: model.PathOptions{Backend: "plainonly", Numerics: "ggml-cpu"}})
	if err == nil || !strings.Contains(err.Error(), "ggml-cpu") || !strings.Contains(err.Error(), "plainonly") {
		t.Errorf("ggml-cpu on a plain-only backend: error %v, want one naming both", err)
	}
}

// TestGoldenStoriesPlain: under plain too, stories260K's first 48 greedy
// tokens from BOS are the documented ones, under each instruction set of
// the row dots.
func TestGoldenStoriesPlain(t *testing.T) {
	m := openStories(t)
	eachSIMD(t, func(t *testing.T) {
		for _, act := range []string{"f32", "f16"} {
			e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: act, Ctx: 64, Numerics: "plain"}})
			if err != nil {
				t.Fatal(err)
			}
			got := greedy(t, e, len(goldenStories))
			e.Close()
			if !slices.Equal(got, goldenStories) {
				t.Errorf("%s: greedy tokens\n got %v\nwant %v", act, got, goldenStories)
			}
		}
	})
}
