package reference_test

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/model"
)

// TestForwardLast: ForwardLast returns the last row of Forward's logits —
// bit for bit under plain (a row's dot products do not depend on how many
// rows the matmul has), within summation order under ggml-cpu (a one-row
// LM head is ggml_vec_dot, a prompt's is tinyBLAS, as in llama.cpp) — and
// leaves the cache as Forward does (the next decode step is bit-identical);
// with a hook it hands over every row of the logits checkpoint.
func TestForwardLast(t *testing.T) {
	m := stories(t)
	V := m.Config.Vocab
	for _, num := range []string{"plain", "ggml-cpu"} {
		for _, act := range []string{"f32", "f16"} {
			t.Run(num+"/"+act, func(t *testing.T) {
				opts := model.PathOptions{ActDType: act, Numerics: num}
				full, last := open(t, m, opts), open(t, m, opts)
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
					// Not bit for bit under either profile: the LM head of
					// one row runs row dots, of several rows tiles, whose
					// summation orders differ (backend/numerics.go).
					if d > 1e-5*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("logit %d: ForwardLast %v, Forward's last row %v", i, row[i], want[i])
					}
				}
				next := int32(golden[len(prompt)-1])
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
		c := open(t, m, model.PathOptions{})
		rows := -1
		c.SetHook(func(tn *model.Tensor) {
			if tn.Name == "logits" {
				rows = tn.Rows
			}
		})
		row, err := c.ForwardLast(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rows != len(prompt) || len(row) != V {
			t.Fatalf("hook saw %d logits rows, want %d; returned %d logits, want %d", rows, len(prompt), len(row), V)
		}
	})
}

// TestDecodeAllocatesNothing: a decode step through ForwardLast (how
// model.Generate and `paritycheck bench` decode) makes no heap allocation
// once the context has run a step, under both numerics profiles and both
// activation storages, on the cpu backend.
func TestDecodeAllocatesNothing(t *testing.T) {
	m := stories(t)
	for _, num := range []string{"plain", "ggml-cpu"} {
		for _, act := range []string{"f32", "f16"} {
			t.Run(num+"/"+act, func(t *testing.T) {
				c := open(t, m, model.PathOptions{ActDType: act, Numerics: num, Ctx: 256})
				if _, err := c.Forward(prompt, 0); err != nil {
					t.Fatal(err)
				}
				pos := len(prompt)
				tok := []int32{1}
				step := func() {
					if _, err := c.ForwardLast(tok, pos); err != nil {
						t.Fatal(err)
					}
					pos++
				}
				step() // first use grows the one-row buffers
				if got := testing.AllocsPerRun(20, step); got != 0 {
					t.Errorf("allocations per decode step: got %v, want 0", got)
				}
			})
		}
	}
}
