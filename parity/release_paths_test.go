package parity_test

import (
	"encoding/json"
	"testing"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// With the real paths — dsl fuses checkpoints away, its unfused twin adds
// stage checkpoints and twin rows — a run that releases everything once
// judged (DropCaptures) makes exactly the report of a run that keeps it.
func TestStepsReleaseRealPaths(t *testing.T) {
	for _, c := range []struct{ model, numerics string }{{"stories260K", "plain"}, {"tiny-qwen2@q8_0", "ggml-cpu"}, {"tiny-qwen3@q4_k", "plain"}} {
		t.Run(c.model+"/"+c.numerics, func(t *testing.T) {
			run := func(drop bool) string {
				s, err := parity.Open(testModel(t, c.model), parity.SessionOptions{Paths: []string{"reference", "dsl"}, Unfuse: true,
					PathOptions: model.PathOptions{Threads: 1, Numerics: c.numerics}})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				st, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: []int32{1, 403, 407, 261},
					Decode: 2, DropCaptures: drop})
				if err != nil {
					t.Fatal(err)
				}
				b, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			if got, want := run(true), run(false); got != want {
				t.Errorf("steps with DropCaptures differ from steps without:\n got %.600s\nwant %.600s", got, want)
			}
		})
	}
}
