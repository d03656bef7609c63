package parity

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// synthModel writes and opens a tiny-qwen2 of weight type dt.
func synthModel(t *testing.T, dt gguf.Type) *model.Model {
	t.Helper()
	file := filepath.Join(t.TempDir(), "q.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: "tiny-qwen2", DType: dt, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func stepsOf(t *testing.T, m *model.Model, dt DType, paths []model.Path, perturb ...string) *Steps {
	t.Helper()
	var ts []Target
	for _, p := range paths {
		ts = append(ts, Target{Path: p, DType: dt})
	}
	var ps []Perturbation
	for _, s := range perturb {
		p, err := ParsePerturb(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	s, err := RunSteps(StepsOptions{Targets: ts, Weights: &m.Weights, Prompt: []int32{1, 2, 3}, Decode: 1, Perturb: ps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRoundingDeclared: on F16 weights, a path declaring ggml-cpu (which
// rounds mul_mat inputs as llama.cpp does) and one declaring plain (which
// multiplies them as stored) are each judged by the rounding they declare
// and pass; a 1e-3 perturbation is still localized on both.
func TestRoundingDeclared(t *testing.T) {
	m := synthModel(t, gguf.TypeF16)
	// The rounding path is the reference: the exact one is then "no
	// worse", and every row passes.
	vec, exact := newFake(t, "reference", m), newFake(t, "dsl", m)
	vec.roundDot = true
	s := stepsOf(t, m, F32, []model.Path{vec, exact})
	if s.Numerics["reference"] != "ggml-cpu" || s.Numerics["dsl"] != "plain" {
		t.Errorf("numerics %v, want reference ggml-cpu and dsl plain", s.Numerics)
	}
	if s.Rounding["reference"] != RoundingVecDot || s.Rounding["dsl"] != RoundingExact {
		t.Errorf("rounding %v, want reference vec_dot and dsl exact", s.Rounding)
	}
	if s.Failed() {
		t.Errorf("first failure %+v", *s.FirstFailure)
	}
	for _, p := range []string{"reference:blk.1.ffn_up=1e-3", "dsl:blk.0.q=1e-3", "dsl:logits=1e-3"} {
		s := stepsOf(t, m, F32, []model.Path{vec, exact}, p)
		pt, _ := ParsePerturb(p)
		if f := s.FirstFailure; f == nil || f.Checkpoint != pt.Checkpoint || f.A != pt.Path {
			t.Errorf("%s: first failure %+v", p, f)
		} else if strings.Contains(f.Note, "fit") {
			t.Errorf("%s: a perturbation is blamed on the rounding: %s", p, f.Note)
		}
	}
}

// roundQ8Blocks16 is a wrong activation rounding for Q8_0 weights: ggml's
// rule applied to blocks of 16 instead of 32.
func roundQ8Blocks16(t gguf.Type, x []float32) {
	for b := 0; b+16 <= len(x); b += 16 {
		blk := append(append([]float32(nil), x[b:b+16]...), make([]float32, 16)...)
		ggmlnum.RoundForDot(t, blk)
		copy(x[b:b+16], blk[:16])
	}
}

// TestWrongRoundingFails: a kernel whose activation rounding is not what
// its declared numerics implies fails its local verdict — rounding with
// the wrong block size or not at all while declaring ggml-cpu, or rounding
// while declaring plain — in f32 and in f16 storage, where the f16
// threshold alone (5e-5) would let Q8_0's rounding error (~3e-5) through.
// The failing row is the first mul_mat, and its note names the rounding
// that fits. Correctly declared kernels pass.
func TestWrongRoundingFails(t *testing.T) {
	m := synthModel(t, gguf.TypeQ8_0)
	cases := []struct {
		name    string
		round   bool
		roundFn func(gguf.Type, []float32)
		declare string
		fits    string // "" for a pass
		anyNote bool   // the failure may come from the threshold alone
		onlyF32 bool
	}{
		{name: "ggml-cpu rounding", round: true, declare: "ggml-cpu"},
		{name: "plain, not rounding", declare: "plain"},
		{name: "llamacpp rounding", round: true, declare: "llamacpp"},
		{name: "ggml-cpu, not rounding", declare: "ggml-cpu", fits: "fit exact rounding"},
		{name: "plain, rounding", round: true, declare: "plain", fits: "fit vec_dot rounding"},
		{name: "ggml-cpu, blocks of 16", round: true, roundFn: roundQ8Blocks16, declare: "ggml-cpu", anyNote: true, onlyF32: true},
	}
	for _, dt := range []DType{F32, F16} {
		for _, c := range cases {
			if c.onlyF32 && dt != F32 {
				continue
			}
			t.Run(string(dt)+"/"+c.name, func(t *testing.T) {
				p := newFake(t, "dsl", m)
				p.roundDot, p.roundFn, p.declare = c.round, c.roundFn, c.declare
				s := stepsOf(t, m, dt, []model.Path{p})
				f := s.FirstFailure
				if c.fits == "" && !c.anyNote {
					if f != nil {
						t.Fatalf("a correctly declared kernel fails: %+v", *f)
					}
					return
				}
				if f == nil {
					t.Fatal("a kernel rounding other than it declares passes")
				}
				if f.Checkpoint != "blk.0.q" || f.B != LocalOracle || f.Op != "mul_mat" {
					t.Errorf("first failure %s (%s vs %s), want the first mul_mat blk.0.q against the local oracle", f.Checkpoint, f.A, f.B)
				}
				if c.fits != "" && !strings.Contains(f.Note, c.fits) {
					t.Errorf("note %q, want it to say the inputs %s", f.Note, c.fits)
				}
				t.Logf("%s: nmse %.3g, bound %.3g: %s", f.Checkpoint, float64(f.NMSE), float64(f.Bound), f.Note)
			})
		}
	}
	t.Run("unknown numerics", func(t *testing.T) {
		p := newFake(t, "dsl", m)
		p.declare = "fast"
		_, err := RunSteps(StepsOptions{Targets: []Target{{Path: p, DType: F32}}, Weights: &m.Weights, Prompt: []int32{1, 2}})
		if err == nil || !strings.Contains(err.Error(), `"fast"`) {
			t.Errorf("error %v, want one naming the unknown numerics", err)
		}
	})
}

// TestMixedNumericsPair: a path rounding mul_mat inputs as llama.cpp does
// (declaring llamacpp) against a plain reference on Q4_K weights. Its
// error against the exact float64 forward is far above twice the plain
// reference's, which the fused-vs-reference rule alone would fail; the
// rounding's own effect is added to the bound, and the token pair is
// judged with bf16's KL limits (8-bit activation quantization), both with
// a note. Both paths' local rows pass under their own declarations.
func TestMixedNumericsPair(t *testing.T) {
	m := synthModel(t, gguf.TypeQ4_K)
	ref, lc := newFake(t, "reference", m), newFake(t, "llamacpp", m)
	lc.roundDot, lc.declare = true, model.NumericsLlamaCpp
	s := stepsOf(t, m, F32, []model.Path{ref, lc})
	if s.Failed() {
		t.Fatalf("first failure %+v", *s.FirstFailure)
	}
	beyond := 0
	for _, r := range s.Rows {
		if r.A != "llamacpp" || r.B != "reference" || r.Verdict == Fused {
			continue
		}
		if !strings.Contains(r.Note, "numerics differ") {
			t.Errorf("%s: note %q does not say the numerics differ", r.Checkpoint, r.Note)
		}
		if float64(r.ErrA) > FusedFactor(F32)*float64(r.ErrB)+F32.ULP(float64(r.RMSRef)) {
			beyond++
		}
	}
	if beyond == 0 {
		t.Error("no pair row needed the rounding term: the test does not exercise it")
	}
	tk, err := RunTokens(TokensOptions{Paths: []model.Path{ref, lc}, DType: F32, Weights: &m.Weights, Prompt: []int32{1, 2, 3}, N: 8})
	if err != nil {
		t.Fatal(err)
	}
	if p := tk.Pairs[0]; p.Verdict != Pass || !strings.Contains(p.Note, "bf16's KL limits") {
		t.Errorf("token pair: verdict %s, note %q, kld_mean %g", p.Verdict, p.Note, float64(p.KLMean))
	}
	if d := RoundingKLDType(&m.Weights); d != BF16 {
		t.Errorf("RoundingKLDType(Q4_K) = %q, want bf16", d)
	}
	if d := RoundingKLDType(&synthModel(t, gguf.TypeF16).Weights); d != F16 {
		t.Errorf("RoundingKLDType(F16) = %q, want f16", d)
	}
	if d := RoundingKLDType(&openStories(t).Weights); d != "" {
		t.Errorf("RoundingKLDType(F32) = %q, want none", d)
	}
}
