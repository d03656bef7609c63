package parity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// Steps drops each oracle result, widened capture and (with DropCaptures)
// captured series once no later row reads it. Paths that leave
// checkpoints unmaterialized — alone, in chains, across the block
// boundary — make the local oracles recompute them later from their
// inputs, so those inputs must outlive their own rows: each run must
// give the rows of a run that keeps everything, and each local row the
// metrics of a fresh oracle (LocalExpected) over the intact capture.
func TestStepsReleaseKeepsRows(t *testing.T) {
	stories, q4k := openStories(t), synthModel(t, gguf.TypeQ4_K)
	cases := []struct {
		name    string
		m       *model.Model
		skip    []string
		perturb []string
		// mixed makes the second path declare llama.cpp's rounding: the
		// other-rounding and vec_dot global oracles join in.
		mixed bool
	}{
		{"fused like dsl", stories, []string{"attn_norm", "ffn_gate", "ffn_up", "attn_proj"}, nil, false},
		{"chain to the next block", stories, []string{"attn_proj", "ffn_inp", "ffn_out", "l_out"}, nil, false},
		{"no embd, no rope", stories, []string{"embd", "q_rope", "k_rope", "attn_out"}, []string{"reference:blk.2.ffn_act=1e-3"}, false},
		{"mixed numerics on Q4_K", q4k, []string{"attn_norm", "q", "ffn_inp", "output_norm"}, []string{"dsl:blk.0.ffn_up=1e-3"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			run := func(drop bool) *Steps {
				ref, other := newFake(t, "reference", m), newFake(t, "dsl", m, c.skip...)
				if c.mixed {
					other.roundDot, other.declare = true, model.NumericsLlamaCpp
				}
				var ps []Perturbation
				for _, s := range c.perturb {
					p, err := ParsePerturb(s)
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, p)
				}
				s, err := RunSteps(StepsOptions{Targets: []Target{{Path: ref, DType: F32}, {Path: other, DType: F32}},
					Weights: &m.Weights, Prompt: []int32{1, 403, 407}, Decode: 3, Perturb: ps, DropCaptures: drop})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			kept, dropped := run(false), run(true)
			if got, want := rowsJSON(t, dropped), rowsJSON(t, kept); got != want {
				t.Errorf("rows with DropCaptures differ from rows without:\n got %.400s\nwant %.400s", got, want)
			}
			for _, tr := range dropped.Traces {
				for name, sr := range tr.Capture.Series {
					if sr.Data != nil || tr.Logits != nil {
						t.Errorf("%s: %s still holds %d values after the rows were made", tr.Path, name, len(sr.Data))
					}
				}
			}
			if c.mixed && !strings.Contains(rowsJSON(t, kept), "numerics differ") {
				t.Error("no pair row compares across roundings: the vec_dot global oracle is not exercised")
			}
			byPath := map[string]*Trace{}
			for _, tr := range kept.Traces {
				byPath[tr.Path] = tr
			}
			checked := 0
			for _, r := range kept.Rows {
				if r.B != LocalOracle {
					continue
				}
				tr := byPath[r.A]
				want, _, err := LocalExpected(&m.Config, &m.Weights, tr, r.Checkpoint, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := Compare(widen(tr.Capture.Series[r.Checkpoint].Data), want, tr.DType)
				if got.NMSE != r.NMSE || got.MaxAbs != r.MaxAbs {
					t.Errorf("%s %s: row nmse %g max_abs %g, a fresh oracle gives %g %g", r.A, r.Checkpoint,
						float64(r.NMSE), float64(r.MaxAbs), float64(got.NMSE), float64(got.MaxAbs))
				}
				checked++
			}
			cfg := m.Config
			if n := len(model.NewGraph(&cfg).Names()); checked < n {
				t.Errorf("%d local rows checked, want at least the reference's %d", checked, n)
			}
		})
	}
}

// rowsJSON is the JSON of a report's rows and first failure.
func rowsJSON(t *testing.T, s *Steps) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Rows  []Row
		First *Row
	}{s.Rows, s.FirstFailure})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// liveness drops each checkpoint right after its last reader: the next
// op for most, the residual add for a block's input, the block's own
// ffn_inp for an attn_out that a path fused into attn_proj (the path's
// oracle recomputes attn_proj there), and nothing is kept to the end.
func TestLiveness(t *testing.T) {
	m := openStories(t)
	g := model.NewGraph(&m.Config)
	names := g.Names()
	trace := func(skip ...string) *Trace {
		c := NewCapture()
		for _, n := range names {
			kind, _, _ := model.ParseCheckpoint(n)
			if !slices.Contains(skip, kind) {
				c.Series[n] = &Series{Name: n}
			}
		}
		return &Trace{Capture: c}
	}
	j := &judge{cfg: &m.Config, graph: g, s: &Steps{Traces: []*Trace{trace(), trace("attn_proj")}}, stages: make([]pathStages, 2)}
	dead := j.liveness(names)
	diesAt := map[string]string{}
	for i, ns := range dead {
		for _, n := range ns {
			diesAt[n] = names[i]
		}
	}
	last := m.Config.Layers - 1
	for _, c := range []struct{ name, at string }{
		{"embd", "blk.0.ffn_inp"},
		{"blk.0.attn_norm", "blk.0.v"},
		{"blk.0.q", "blk.0.q_rope"},
		{"blk.0.q_rope", "blk.0.attn_out"},
		{"blk.0.attn_out", "blk.0.ffn_inp"},  // attn_proj recomputed there for the second path
		{"blk.0.attn_proj", "blk.0.ffn_inp"}, // read by the first path's add
		{"blk.0.ffn_act", "blk.0.ffn_out"},
		{"blk.0.ffn_inp", "blk.0.l_out"},
		{"blk.0.l_out", "blk.1.ffn_inp"},
		{model.CheckpointName("l_out", last), "output_norm"},
		{"output_norm", "logits"},
		{"logits", "logits"},
	} {
		if got := diesAt[c.name]; got != c.at {
			t.Errorf("%s is dropped after %q, want after %s", c.name, got, c.at)
		}
	}
	if len(diesAt) != len(names) {
		t.Errorf("%d of %d checkpoints are dropped", len(diesAt), len(names))
	}
}
