package parity

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
)

func fakeSteps(t *testing.T, m *model.Model, paths []model.Path, perturb ...string) *Steps {
	t.Helper()
	var ts []Target
	for _, p := range paths {
		ts = append(ts, Target{Path: p, DType: F32})
	}
	var ps []Perturbation
	for _, s := range perturb {
		p, err := ParsePerturb(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	s, err := RunSteps(StepsOptions{Targets: ts, Weights: &m.Weights, Prompt: []int32{1, 403, 407}, Decode: 3, Perturb: ps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStepsFakePasses(t *testing.T) {
	m := openStories(t)
	ref := newFake(t, "reference", m)
	dsl := newFake(t, "dsl", m, "attn_norm", "ffn_gate", "ffn_up", "attn_proj")
	s := fakeSteps(t, m, []model.Path{ref, dsl})
	if s.Failed() {
		t.Fatalf("first failure %+v", *s.FirstFailure)
	}
	// Tokens: the prompt then greedy steps, which for stories260K from
	// "<s> Once upon" continue " a time".
	if got, want := s.Tokens, testenv.StoriesPrompt(6); !slices.Equal(got, want) {
		t.Errorf("tokens %v, want %v", got, want)
	}
	var local, fused, pair int
	for _, r := range s.Rows {
		switch {
		case r.Verdict == Fused:
			fused++
			if r.A != "reference" || r.B != "dsl" {
				t.Errorf("fused row %s: a=%s b=%s", r.Checkpoint, r.A, r.B)
			}
		case r.B == LocalOracle:
			local++
			if !(float64(r.NMSE) < 1e-11) || r.N == 0 {
				t.Errorf("%s %s: nmse %g vs local oracle, want < 1e-11 for an f32 kernel", r.A, r.Checkpoint, float64(r.NMSE))
			}
		case r.B == "reference":
			pair++
		}
	}
	// 5 layers × 4 kinds fused away.
	if fused != 20 {
		t.Errorf("%d fused rows, want 20", fused)
	}
	nRef := 1 + 5*15 + 2 // llama: no q_norm/k_norm
	if local != nRef+nRef-20 || pair != nRef-20 {
		t.Errorf("%d local and %d pair rows, want %d and %d", local, pair, 2*nRef-20, nRef-20)
	}
	// Where dsl fused attn_proj away, its ffn_inp is judged from attn_out.
	for _, r := range s.Rows {
		if r.A == "dsl" && r.B == LocalOracle && r.Checkpoint == "blk.1.ffn_inp" {
			if r.Note != "from blk.0.l_out,blk.1.attn_out via add+mul_mat" {
				t.Errorf("note %q", r.Note)
			}
			if th, _ := ThresholdFor("mul_mat", F32); float64(r.Bound) != th {
				t.Errorf("bound %g, want the mul_mat threshold %g", float64(r.Bound), th)
			}
		}
	}
}

// TestStepsLocalizesFakeFaults perturbs one checkpoint at a time and checks
// that the first failure is exactly it; with REL = 0 everything passes.
func TestStepsLocalizesFakeFaults(t *testing.T) {
	m := openStories(t)
	for _, c := range []string{"embd", "blk.0.attn_norm", "blk.1.k_rope", "blk.2.v", "blk.2.attn_out", "blk.3.ffn_act",
		"blk.4.l_out", "output_norm", "logits"} {
		for _, path := range []string{"reference", "dsl"} {
			t.Run(path+":"+c, func(t *testing.T) {
				ref, dsl := newFake(t, "reference", m), newFake(t, "dsl", m)
				s := fakeSteps(t, m, []model.Path{ref, dsl}, fmt.Sprintf("%s:%s=1e-3", path, c))
				if s.FirstFailure == nil || s.FirstFailure.Checkpoint != c || s.FirstFailure.A != path {
					t.Fatalf("first failure %+v, want %s on %s", s.FirstFailure, c, path)
				}
				b, err := Bisect(s)
				if err != nil || b.Checkpoint != c || b.Path != path {
					t.Fatalf("bisect %+v (%v), want %s on %s", b, err, c, path)
				}
				s = fakeSteps(t, m, []model.Path{ref, dsl}, fmt.Sprintf("%s:%s=0", path, c))
				if s.Failed() {
					t.Fatalf("REL=0: first failure %+v", *s.FirstFailure)
				}
			})
		}
	}
}

// TestStepsDriftInherited: a fault upstream makes every downstream pair
// row's global error exceed the no-worse bound, but those ops are as
// accurate as the reference's on their own inputs: their pair rows pass,
// saying the excess is inherited, and only the faulty op fails. A
// downstream op that is itself worse still fails.
func TestStepsDriftInherited(t *testing.T) {
	m := openStories(t)
	ref, dsl := newFake(t, "reference", m), newFake(t, "dsl", m)
	s := fakeSteps(t, m, []model.Path{ref, dsl}, "dsl:blk.1.ffn_out=1e-3")
	inherited := 0
	for _, r := range s.Rows {
		if r.A != "dsl" || r.B != "reference" || r.Verdict == Fused {
			continue
		}
		switch {
		case r.Checkpoint == "blk.1.ffn_out":
			if r.Verdict != Fail {
				t.Errorf("the faulty op's pair row: %s (%s)", r.Verdict, r.Note)
			}
		case r.Verdict == Fail:
			t.Errorf("%s: %s (%s), want a pass with the excess inherited", r.Checkpoint, r.Verdict, r.Note)
		case strings.Contains(r.Note, "inherited"):
			inherited++
		}
	}
	if inherited == 0 {
		t.Fatal("no pair row downstream of the fault was over its drift bound: the test shows nothing")
	}
	// Across numerics profiles too (reference@cpu under ggml-cpu against a
	// GPU path under plain): each local error is against the path's own
	// declared arithmetic, so the rule compares them all the same.
	ref, dsl = newFake(t, "reference", m), newFake(t, "dsl", m)
	ref.declare = "ggml-cpu"
	s = fakeSteps(t, m, []model.Path{ref, dsl}, "dsl:blk.1.ffn_out=1e-3")
	if s.Numerics["reference"] != "ggml-cpu" || s.Numerics["dsl"] != "plain" {
		t.Fatalf("numerics %v", s.Numerics)
	}
	inherited = 0
	for _, r := range s.Rows {
		if r.A != "dsl" || r.B != "reference" || r.Verdict == Fused || r.Checkpoint == "blk.1.ffn_out" {
			continue
		}
		if r.Verdict == Fail {
			t.Errorf("across profiles, %s: %s (%s), want a pass with the excess inherited", r.Checkpoint, r.Verdict, r.Note)
		} else if strings.Contains(r.Note, "inherited") {
			inherited++
		}
	}
	if inherited == 0 {
		t.Fatal("across profiles: no pair row was over its drift bound: the test shows nothing")
	}
	// The same fault injected again downstream is that op's own: it fails.
	ref, dsl = newFake(t, "reference", m), newFake(t, "dsl", m)
	s = fakeSteps(t, m, []model.Path{ref, dsl}, "dsl:blk.1.ffn_out=1e-3", "dsl:blk.3.ffn_act=1e-3")
	for _, r := range s.Rows {
		if r.Checkpoint == "blk.3.ffn_act" && r.A == "dsl" && r.B == "reference" && r.Verdict != Fail {
			t.Errorf("blk.3.ffn_act, itself perturbed: %s (%s)", r.Verdict, r.Note)
		}
	}
}

// TestStepsHiddenBug: a fault the hook cannot see (the path goes on with
// values other than those it reported) fails at the first consumer.
func TestStepsHiddenBug(t *testing.T) {
	m := openStories(t)
	ref, dsl := newFake(t, "reference", m), newFake(t, "dsl", m)
	dsl.bug = func(x *model.Tensor) {
		if x.Name == "blk.2.ffn_gate" {
			for i := range x.Data {
				x.Data[i] *= 1.001
			}
		}
	}
	s := fakeSteps(t, m, []model.Path{ref, dsl})
	if f := s.FirstFailure; f == nil || f.Checkpoint != "blk.2.ffn_act" || f.A != "dsl" || f.B != LocalOracle {
		t.Fatalf("first failure %+v, want dsl blk.2.ffn_act vs local", f)
	}
}

// TestStepsNonFinite: a NaN where the oracle is finite fails the row even
// though the NMSE sums leave it out.
func TestStepsNonFinite(t *testing.T) {
	m := openStories(t)
	ref, dsl := newFake(t, "reference", m), newFake(t, "dsl", m)
	dsl.pre = func(x *model.Tensor) {
		if x.Name == "blk.1.v" && x.Pos == 0 {
			x.Data[5] = float32(math.NaN())
		}
	}
	s := fakeSteps(t, m, []model.Path{ref, dsl})
	f := s.FirstFailure
	if f == nil || f.Checkpoint != "blk.1.v" || f.A != "dsl" || f.NonFinite != 1 || f.NaN != 1 {
		t.Fatalf("first failure %+v, want dsl blk.1.v with one NaN", f)
	}
}

func TestStepsNoOracleBisect(t *testing.T) {
	m := openStories(t)
	ref, dsl := newFake(t, "reference", m), newFake(t, "dsl", m)
	p, _ := ParsePerturb("dsl:blk.2.ffn_up=1e-2")
	s, err := RunSteps(StepsOptions{Targets: []Target{{Path: ref, DType: F32}, {Path: dsl, DType: F32}},
		Prompt: []int32{1, 403}, Decode: 2, Perturb: []Perturbation{p}, NoOracle: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bisect(s)
	if err != nil || b.Checkpoint != "blk.2.ffn_up" || b.Layer != 2 || b.Op != "mul_mat" {
		t.Fatalf("bisect without oracle: %+v, %v", b, err)
	}
}

func TestPerturbErrors(t *testing.T) {
	m := openStories(t)
	ref := newFake(t, "reference", m, "ffn_gate")
	for _, s := range []string{"dsl:blk.0.q=1e-3", "reference:blk.0.ffn_gate=1e-3", "reference:blk.9.q=1e-3"} {
		p, err := ParsePerturb(s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = RunSteps(StepsOptions{Targets: []Target{{Path: ref, DType: F32}}, Weights: &m.Weights,
			Prompt: []int32{1}, Perturb: []Perturbation{p}})
		if err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	for _, s := range []string{"", "dsl", "dsl:blk.0.q", "dsl:blk.0.qq=1", "dsl:blk.0.q=-1", "dsl:blk.0.q=x", ":q=1"} {
		if _, err := ParsePerturb(s); err == nil {
			t.Errorf("ParsePerturb(%q): no error", s)
		}
	}
}

// TestUnknownCheckpointFails: a path reporting a name outside DESIGN.md's
// table for its architecture (here q_norm on llama) gets a failing row.
func TestUnknownCheckpointFails(t *testing.T) {
	m := openStories(t)
	ref := newFake(t, "reference", m)
	ref.pre = func(x *model.Tensor) {
		if x.Name == "blk.0.q" {
			ref.hook(&model.Tensor{Name: "blk.0.q_norm", Layer: 0, Pos: x.Pos, Rows: x.Rows, Cols: x.Cols, Data: x.Data})
		}
	}
	s := fakeSteps(t, m, []model.Path{ref})
	if f := s.FirstFailure; f == nil || f.Checkpoint != "blk.0.q_norm" || f.Op != "unknown" {
		t.Fatalf("first failure %+v, want the stray blk.0.q_norm", f)
	}
}
