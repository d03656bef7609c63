package dsl

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
)

// TestForwardLast: ForwardLast runs the LM head on the last token alone
// and returns Forward's last row — bit for bit under ggml-cpu (both run
// the GEMV form, whose rows do not depend on the token count), within
// summation order under plain (a prompt's head is the tiled GEMM form) —
// leaves the cache as Forward does, and with a hook hands over every row
// of the logits checkpoint.
func TestForwardLast(t *testing.T) {
	m := openStories(t)
	V := m.Config.Vocab
	prompt := testenv.StoriesPrompt(12)
	for _, num := range []string{"plain", "ggml-cpu"} {
		for _, act := range []string{"f32", "f16"} {
			t.Run(num+"/"+act, func(t *testing.T) {
				opts := Options{PathOptions: model.PathOptions{ActDType: act, Numerics: num}}
				full, err := New(m, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer full.Close()
				last, err := New(m, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer last.Close()
				if last.head < 0 {
					t.Fatal("the embedded spec's LM head does not run on the last row alone")
				}
				all, err := full.Forward(prompt, 0)
				if err != nil {
					t.Fatal(err)
				}
				row, err := last.ForwardLast(prompt, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(row) != V {
					t.Fatalf("ForwardLast returned %d logits, want %d", len(row), V)
				}
				want := all[(len(prompt)-1)*V:]
				for i := range row {
					d := math.Abs(float64(row[i] - want[i]))
					if num == "ggml-cpu" && row[i] != want[i] || d > 1e-5*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("logit %d: ForwardLast %v, Forward's last row %v", i, row[i], want[i])
					}
				}
				next := testenv.StoriesGreedy()[len(prompt)-1]
				a, err := full.Forward([]int32{next}, len(prompt))
				if err != nil {
					t.Fatal(err)
				}
				b, err := last.ForwardLast([]int32{next}, len(prompt))
				if err != nil {
					t.Fatal(err)
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("decode after the prompt, logit %d: %v after Forward, %v after ForwardLast", i, a[i], b[i])
					}
				}
			})
		}
	}
	t.Run("hook", func(t *testing.T) {
		e, err := New(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		rows := -1
		e.SetHook(func(tn *model.Tensor) {
			if tn.Name == "logits" {
				rows = tn.Rows
			}
		})
		row, err := e.ForwardLast(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rows != len(prompt) || len(row) != V {
			t.Fatalf("hook saw %d logits rows, want %d; returned %d logits, want %d", rows, len(prompt), len(row), V)
		}
	})
}
