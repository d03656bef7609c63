package parity_test

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// unfusedSteps runs step parity of reference, dsl and dsl-unfused on
// file with fault f injected into every dsl path opened (nil: none).
func unfusedSteps(t *testing.T, file, numerics string, f *dsl.Fault) *parity.Steps {
	t.Helper()
	defer dsl.SetTestFault(f)()
	s, err := parity.Open(file, parity.SessionOptions{Paths: []string{"reference", "dsl"}, Unfuse: true,
		PathOptions: model.PathOptions{Threads: 1, Numerics: numerics}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Targets) != 3 || s.Targets[2].Path.Name() != "dsl"+model.UnfusedSuffix {
		t.Fatalf("targets: %d, last %s", len(s.Targets), s.Targets[len(s.Targets)-1].Path.Name())
	}
	toks := []int32{1, 403, 407, 261, 378}
	steps, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: toks, Decode: 3})
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// Without a fault every stage checkpoint of the unfused dsl path passes
// its local float64 oracle, stage rows come just before the checkpoint
// whose kernel they belong to, and the unfused path equals the fused one.
func TestUnfusedStepsPass(t *testing.T) {
	for _, c := range []struct{ model, numerics string }{{"stories260K", "plain"}, {"tiny-qwen2@q8_0", "ggml-cpu"}, {"tiny-qwen3@q4_k", "plain"}} {
		t.Run(c.model+"/"+c.numerics, func(t *testing.T) {
			steps := unfusedSteps(t, testModel(t, c.model), c.numerics, nil)
			if steps.Failed() {
				t.Fatalf("first failure %+v", *steps.FirstFailure)
			}
			var stage, twin int
			for i, r := range steps.Rows {
				switch {
				case r.Stage != "":
					stage++
					if r.Verdict != parity.Pass || r.A != "dsl-unfused" || r.B != parity.LocalOracle || r.N == 0 {
						t.Errorf("stage row %s: %s vs %s, %s (n %d)", r.Checkpoint, r.A, r.B, r.Verdict, r.N)
					}
					if !strings.HasPrefix(r.Checkpoint, r.Of+".") {
						t.Errorf("stage row %s of %s", r.Checkpoint, r.Of)
					}
					next := steps.Rows[i+1]
					if next.Stage == "" && next.Checkpoint != r.Of {
						t.Errorf("stage row %s is followed by %s, not by %s", r.Checkpoint, next.Checkpoint, r.Of)
					}
				case r.A == "dsl-unfused" && r.B == "dsl":
					twin++
					if r.NMSE != 0 || r.MaxAbs != 0 {
						t.Errorf("%s: unfused differs from fused on the CPU (nmse %g)", r.Checkpoint, r.NMSE)
					}
				}
			}
			if stage < 10 || twin < 10 {
				t.Fatalf("%d stage rows, %d unfused-vs-fused rows", stage, twin)
			}
			b, err := parity.Bisect(steps)
			if err != nil || b.Found {
				t.Fatalf("bisect: %+v, %v", b, err)
			}
		})
	}
}

// A perturbation injected into one stage of a fused dsl kernel (a
// test-only fault, in the fused kernel and its unfused parts alike) is
// localized by bisect --unfuse to that stage; an injected composition
// fault (the fused kernel's residual argument bound 4 bytes off) is
// reported as "stages pass, fused fails".
func TestUnfuseLocalizes(t *testing.T) {
	file := testModel(t, "stories260K")
	for _, c := range []struct {
		name  string
		fault dsl.Fault
		want  string // the stage checkpoint bisect must name
	}{
		{"swiglu", dsl.Fault{Checkpoint: "blk.1.ffn_act", Stage: "swiglu", Rel: 1e-3}, "blk.1.ffn_act.swiglu"},
		{"rmsnorm", dsl.Fault{Checkpoint: "blk.2.q", Stage: "rmsnorm", Rel: 1e-3}, "blk.2.q.rmsnorm"},
		{"gemv", dsl.Fault{Checkpoint: "blk.3.k", Stage: "gemv", Rel: 1e-3}, "blk.3.k.gemv"},
		{"residual", dsl.Fault{Checkpoint: "blk.0.l_out", Stage: "residual", Rel: 1e-3}, "blk.0.l_out.residual"},
		{"lm-head-gemv", dsl.Fault{Checkpoint: "logits", Stage: "gemv", Rel: 1e-3}, "logits.gemv"},
	} {
		t.Run("stage/"+c.name, func(t *testing.T) {
			steps := unfusedSteps(t, file, "plain", &c.fault)
			b, err := parity.Bisect(steps)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Found || b.Checkpoint != c.want || b.Path != "dsl-unfused" || b.Stage != c.fault.Stage || b.Of != c.fault.Checkpoint || b.Composition {
				t.Fatalf("bisect: %s (stage %q of %q, path %s, composition %v), want %s\nevidence: %s",
					b.Checkpoint, b.Stage, b.Of, b.Path, b.Composition, c.want, b.Evidence)
			}
			if !strings.Contains(b.Evidence, "stage "+c.fault.Stage+" of the kernel that produces "+c.fault.Checkpoint) {
				t.Errorf("evidence: %s", b.Evidence)
			}
			// The fault is in the fused kernel too: some row of the fused
			// dsl path fails against its local oracle (for q and k, which
			// rmsnorm_qkv_rope fuses away, the rotated q_rope/k_rope).
			fusedFails := false
			for _, r := range steps.Rows {
				fusedFails = fusedFails || r.A == "dsl" && r.B == parity.LocalOracle && r.Failed()
			}
			if !fusedFails {
				t.Errorf("no row of the fused dsl path fails: the fault did not reach its kernel")
			}
			// The fused kernel fails too, and its row names the stage.
			for _, r := range steps.Rows {
				if r.Checkpoint == c.fault.Checkpoint && r.A == "dsl" && r.B == parity.LocalOracle {
					if !r.Failed() || r.Composition || !strings.Contains(r.Note, c.want+" fails too") {
						t.Errorf("fused row: %s, note %q", r.Verdict, r.Note)
					}
				}
			}
		})
	}
	for _, c := range []struct {
		name  string
		fault dsl.Fault
	}{
		{"residual-offset", dsl.Fault{Checkpoint: "blk.1.ffn_inp", Arg: "residual", Shift: 4}},
		{"input-offset", dsl.Fault{Checkpoint: "blk.3.ffn_act", Arg: "x", Shift: 4}},
	} {
		t.Run("composition/"+c.name, func(t *testing.T) {
			steps := unfusedSteps(t, file, "plain", &c.fault)
			b, err := parity.Bisect(steps)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Found || b.Checkpoint != c.fault.Checkpoint || b.Path != "dsl" || !b.Composition || b.Stage != "" {
				t.Fatalf("bisect: %s on %s (composition %v), want %s on dsl as a composition fault\nevidence: %s",
					b.Checkpoint, b.Path, b.Composition, c.fault.Checkpoint, b.Evidence)
			}
			if !strings.HasPrefix(b.Evidence, "dsl vs its local float64 oracle") || !strings.Contains(b.Evidence, parity.CompositionNote) {
				t.Errorf("evidence: %s", b.Evidence)
			}
			for _, r := range steps.Rows {
				if r.A == "dsl-unfused" && r.B == parity.LocalOracle && r.Failed() {
					t.Errorf("unfused row %s fails: %s", r.Checkpoint, r.Note)
				}
			}
		})
	}
}
