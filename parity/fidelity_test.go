package parity

import (
	"math"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/model"
)

// TestTeacherForceIdentical: two paths with the same arithmetic are
// identical op by op, every compared checkpoint of every forward call
// (prompt and decode steps) has a row, and fused kinds are listed.
func TestTeacherForceIdentical(t *testing.T) {
	m := openStories(t)
	a := newFake(t, "a", m, "ffn_gate", "ffn_up")
	b := newFake(t, "b", m)
	prompt := []int32{1, 403, 407, 261}
	f, err := TeacherForce(a, b, prompt, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Identical || f.FirstDiffer != nil {
		t.Fatalf("identical paths reported different: %+v", f.FirstDiffer)
	}
	if len(f.Tokens) != len(prompt)+2 {
		t.Errorf("tokens %v: want the prompt and 2 decoded", f.Tokens)
	}
	// 3 forward calls × (2 global + 5 layers × per-layer kinds a has).
	perLayer := 0
	for _, k := range a.Checkpoints() {
		if k != "embd" && k != "output_norm" && k != "logits" {
			perLayer++
		}
	}
	if want := 3 * (3 + m.Config.Layers*perLayer); len(f.Rows) != want {
		t.Errorf("%d rows, want %d", len(f.Rows), want)
	}
	if strings.Join(f.Missing, ",") != "ffn_gate,ffn_up" {
		t.Errorf("missing %v, want [ffn_gate ffn_up]", f.Missing)
	}
}

// TestTeacherForceLocalizes: a fault in one op of a (seen by its capture)
// shows in that checkpoint alone: its successors get b's inputs and agree.
func TestTeacherForceLocalizes(t *testing.T) {
	m := openStories(t)
	for _, target := range []string{"blk.0.attn_norm", "blk.2.ffn_act", "blk.4.attn_out", "logits"} {
		a, b := newFake(t, "a", m), newFake(t, "b", m)
		a.pre = func(x *model.Tensor) {
			if x.Name == target {
				x.Data[1] = math.Nextafter32(x.Data[1], float32(math.Inf(1)))
			}
		}
		f, err := TeacherForce(a, b, []int32{1, 403, 407}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.Identical || f.FirstDiffer == nil || f.FirstDiffer.Checkpoint != target {
			t.Fatalf("fault in %s: first differ %+v", target, f.FirstDiffer)
		}
		for _, r := range f.Rows {
			switch {
			case r.Checkpoint == target && (r.Differ != 1 || r.MaxULP != 1):
				t.Errorf("%s@%d: %d values differ by up to %d ulp, want 1 by 1", r.Checkpoint, r.Pos, r.Differ, r.MaxULP)
			case r.Checkpoint != target && r.Differ != 0:
				t.Errorf("%s@%d differs (%d values) though only %s is faulty", r.Checkpoint, r.Pos, r.Differ, target)
			}
		}
	}
}
