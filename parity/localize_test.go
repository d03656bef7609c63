package parity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	_ "github.com/metallic-go/metallic/parity/paths"
	"github.com/metallic-go/metallic/synth"
)

var synthDir struct {
	once sync.Once
	dir  string
	err  error
}

// testModel returns the path of stories260K or of a synth preset (written
// once per test binary, seed 7): "tiny-qwen2" has F32 weights,
// "tiny-qwen2@q4_k" Q4_K ones.
func testModel(t *testing.T, name string) string {
	t.Helper()
	preset, dt := name, gguf.TypeF32
	if i := strings.IndexByte(name, '@'); i >= 0 {
		var err error
		preset = name[:i]
		if dt, err = gguf.ParseType(name[i+1:]); err != nil {
			t.Fatal(err)
		}
	}
	if name == "stories260K" {
		return filepath.Join("..", "testdata", "stories260K.gguf")
	}
	synthDir.once.Do(func() {
		synthDir.dir, synthDir.err = os.MkdirTemp("", "parity-synth-")
	})
	if synthDir.err != nil {
		t.Fatal(synthDir.err)
	}
	p := filepath.Join(synthDir.dir, name+".gguf")
	if _, err := os.Stat(p); err != nil {
		if _, err := synth.WriteFile(p, synth.Options{Preset: preset, DType: dt, Seed: 7}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if synthDir.dir != "" {
		os.RemoveAll(synthDir.dir)
	}
	os.Exit(code)
}

func referenceSteps(t *testing.T, file string, perturb string) *parity.Steps {
	t.Helper()
	return pathSteps(t, file, perturb, "reference")
}

func pathSteps(t *testing.T, file string, perturb string, paths ...string) *parity.Steps {
	t.Helper()
	s, err := parity.Open(file, parity.SessionOptions{Paths: paths, PathOptions: model.PathOptions{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ps []parity.Perturbation
	if perturb != "" {
		p, err := parity.ParsePerturb(perturb)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	prompt := []int32{1, 403, 407, 261}
	st, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: prompt, Decode: 2, Perturb: ps})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFaultLocalization is the acceptance test of the harness: a relative
// perturbation of 1e-3 at one checkpoint of the reference path makes the
// first failure, and bisect, name exactly that checkpoint and layer; the
// same run with REL = 0 passes everywhere.
func TestFaultLocalization(t *testing.T) {
	cases := []struct{ model, checkpoint string }{
		{"stories260K", "embd"},
		{"stories260K", "blk.0.attn_norm"},
		{"stories260K", "blk.1.q_rope"},
		{"stories260K", "blk.2.attn_out"},
		{"stories260K", "blk.3.ffn_act"},
		{"stories260K", "blk.4.l_out"},
		{"stories260K", "output_norm"},
		{"stories260K", "logits"},
		{"tiny-qwen2", "blk.0.q"},
		{"tiny-qwen2", "blk.0.v"},
		{"tiny-qwen2", "blk.1.k_rope"},
		{"tiny-qwen2", "blk.1.ffn_gate"},
		{"tiny-qwen3", "blk.0.q_norm"},
		{"tiny-qwen3", "blk.1.k_norm"},
		{"tiny-qwen3", "blk.0.attn_proj"},
		{"tiny-qwen3", "blk.1.ffn_out"},
		// Quantized weights: the oracle applies the path's activation
		// rounding, so 1e-3 stays detectable.
		{"tiny-qwen2@q4_k", "blk.1.ffn_up"},
		{"tiny-qwen3@q8_0", "blk.0.k"},
		{"tiny-qwen3@f16", "logits"},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.checkpoint, func(t *testing.T) {
			file := testModel(t, c.model)
			_, layer, _ := model.ParseCheckpoint(c.checkpoint)
			st := referenceSteps(t, file, fmt.Sprintf("reference:%s=1e-3", c.checkpoint))
			f := st.FirstFailure
			if f == nil || f.Checkpoint != c.checkpoint || f.Layer != layer {
				t.Fatalf("first_failure %+v, want %s (layer %d)", f, c.checkpoint, layer)
			}
			b, err := parity.Bisect(st)
			if err != nil || !b.Found || b.Checkpoint != c.checkpoint || b.Layer != layer || b.Path != "reference" {
				t.Fatalf("bisect %+v (%v), want %s layer %d", b, err, c.checkpoint, layer)
			}
			// rel²/3 ≈ 3.3e-7 is injected; the row must show it.
			if nm := float64(f.NMSE); nm < 1e-7 || nm > 1e-6 {
				t.Errorf("nmse %g, want ≈ 3.3e-7", nm)
			}
			if st := referenceSteps(t, file, fmt.Sprintf("reference:%s=0", c.checkpoint)); st.Failed() {
				t.Fatalf("REL=0: first failure %+v", *st.FirstFailure)
			}
		})
	}
}

// TestFaultLocalizationDSL perturbs checkpoints the fused path
// materializes, running reference and dsl together: the first failure is
// dsl's own row at that checkpoint, never the reference's.
func TestFaultLocalizationDSL(t *testing.T) {
	cases := []struct{ model, checkpoint string }{
		{"stories260K", "blk.0.q_rope"},
		{"stories260K", "blk.2.k_rope"},
		{"stories260K", "blk.3.ffn_act"},
		{"stories260K", "logits"},
		{"tiny-qwen2", "blk.1.v"},
		{"tiny-qwen3", "blk.0.attn_out"},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.checkpoint, func(t *testing.T) {
			file := testModel(t, c.model)
			_, layer, _ := model.ParseCheckpoint(c.checkpoint)
			st := pathSteps(t, file, "dsl:"+c.checkpoint+"=1e-3", "reference", "dsl")
			f := st.FirstFailure
			if f == nil || f.Checkpoint != c.checkpoint || f.Layer != layer || f.A != "dsl" {
				t.Fatalf("first_failure %+v, want dsl at %s", f, c.checkpoint)
			}
			if b, _ := parity.Bisect(st); b == nil || b.Checkpoint != c.checkpoint || b.Path != "dsl" {
				t.Fatalf("bisect %+v", b)
			}
			if st := pathSteps(t, file, "dsl:"+c.checkpoint+"=0", "reference", "dsl"); st.Failed() {
				t.Fatalf("REL=0: first failure %+v", *st.FirstFailure)
			}
		})
	}
}

// TestThreePathsPass: reference, dsl and (when installed) llama.cpp agree
// on every model, including the fused-vs-reference rule.
func TestThreePathsPass(t *testing.T) {
	for _, name := range []string{"stories260K", "tiny-qwen2", "tiny-qwen3", "tiny-qwen2@q4_k", "tiny-qwen3@q8_0", "tiny-qwen3@f16"} {
		s, err := parity.Open(testModel(t, name), parity.SessionOptions{Paths: []string{"reference", "dsl", "llamacpp"},
			Optional: []string{"llamacpp"}, PathOptions: model.PathOptions{Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: []int32{1, 403, 407, 261}, Decode: 2})
		if err != nil {
			t.Fatal(err)
		}
		if st.Failed() {
			t.Errorf("%s: first failure %+v", name, *st.FirstFailure)
		}
		// llama.cpp rounds mul_mat inputs to its vec_dot_type.
		if r, ok := st.Rounding["llamacpp"]; ok && r != parity.RoundingVecDot {
			t.Errorf("%s: llama.cpp's rounding detected as %q", name, r)
		}
		t.Logf("%s: paths %v (skipped %v), rounding %v", name, st.Paths, s.Skipped, st.Rounding)
		if why, ok := s.Skipped["llamacpp"]; ok && testenv.OraclesRequired() {
			t.Errorf("llama.cpp is required: %s", why)
		}
	}
}

// TestStepsDeterministic: two runs give identical reports.
func TestStepsDeterministic(t *testing.T) {
	file := testModel(t, "tiny-qwen2")
	a, _ := json.Marshal(pathSteps(t, file, "", "reference", "dsl").Rows)
	b, _ := json.Marshal(pathSteps(t, file, "", "reference", "dsl").Rows)
	if !bytes.Equal(a, b) {
		t.Error("two identical runs gave different rows")
	}
}

// TestReferenceMargins: on every model the reference's local errors stay
// 100× under their bounds, so the thresholds are not tuned to the edge.
func TestReferenceMargins(t *testing.T) {
	for _, name := range []string{"stories260K", "tiny-qwen2", "tiny-qwen3", "tiny-qwen2@q4_k", "tiny-qwen3@q8_0"} {
		st := referenceSteps(t, testModel(t, name), "")
		n := 0
		for _, r := range st.Rows {
			if r.B != parity.LocalOracle {
				continue
			}
			n++
			if !(float64(r.NMSE) <= float64(r.Bound)/100) {
				t.Errorf("%s %s: nmse %g is within 100× of its bound %g", name, r.Checkpoint, float64(r.NMSE), float64(r.Bound))
			}
		}
		if n == 0 {
			t.Errorf("%s: no local rows", name)
		}
	}
}
