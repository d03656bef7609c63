package dsl

import (
	"bytes"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// TestGPUUnfused: on a real GPU (steps --paths dsl --unfuse --backend
// cuda on stories260K), every stage kernel compiles, every stage
// checkpoint passes its float64 oracle, the unfused path stays within the
// bound of the fused one, and bisect names a stage fault's stage and a
// composition fault as such, as on the CPU (parity's TestUnfuseLocalizes).
func TestGPUUnfused(t *testing.T) {
	needGPU(t)
	file := repoRoot(t) + "/testdata/stories260K.gguf"
	steps := func(f *Fault) *parity.Steps {
		defer SetTestFault(f)()
		s, err := parity.Open(file, parity.SessionOptions{Paths: []string{"dsl"}, Unfuse: true,
			PathOptions: model.PathOptions{Backend: "cuda", Numerics: "plain"}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights,
			Prompt: []int32{1, 403, 407, 261, 378}, Decode: 3})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := steps(nil)
	var b bytes.Buffer
	if err := parity.PrintSteps(&b, st, parity.PrintOptions{}); err != nil {
		t.Fatal(err)
	}
	if st.Failed() {
		t.Fatalf("unfused steps on cuda fail:\n%s", b.String())
	}
	n := 0
	for _, r := range st.Rows {
		if r.Stage != "" {
			n++
		}
	}
	if n < 40 {
		t.Fatalf("%d stage rows:\n%s", n, b.String())
	}
	t.Logf("%d rows, %d stage rows pass\n%s", len(st.Rows), n, b.String())
	for _, c := range []struct {
		f    Fault
		want string
		comp bool
	}{
		{Fault{Checkpoint: "blk.1.ffn_act", Stage: "swiglu", Rel: 1e-3}, "blk.1.ffn_act.swiglu", false},
		{Fault{Checkpoint: "blk.2.q", Stage: "rmsnorm", Rel: 1e-3}, "blk.2.q.rmsnorm", false},
		{Fault{Checkpoint: "blk.1.ffn_inp", Arg: "residual", Shift: 4}, "blk.1.ffn_inp", true},
	} {
		bi, err := parity.Bisect(steps(&c.f))
		if err != nil {
			t.Fatal(err)
		}
		if !bi.Found || bi.Checkpoint != c.want || bi.Composition != c.comp {
			t.Errorf("fault %+v: bisect %s (composition %v), want %s (composition %v): %s", c.f, bi.Checkpoint, bi.Composition, c.want, c.comp, bi.Evidence)
		}
		if c.comp && !strings.Contains(bi.Evidence, parity.CompositionNote) {
			t.Errorf("evidence: %s", bi.Evidence)
		}
	}
}
