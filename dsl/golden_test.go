package dsl

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// goldenStories are stories260K's first 48 greedy tokens from BOS
// (internal/testenv, with their provenance).
var goldenStories = testenv.StoriesGreedy()

func greedy(t *testing.T, p model.Path, n int) []int32 {
	t.Helper()
	tok, pos := testenv.StoriesBOS, 0
	var out []int32
	for len(out) < n {
		logits, err := p.Forward([]int32{tok}, pos)
		if err != nil {
			t.Fatal(err)
		}
		pos++
		tok = sample.Greedy(logits)
		out = append(out, tok)
	}
	return out
}

func TestGoldenStories(t *testing.T) {
	m := openStories(t)
	for _, act := range []string{"f32", "f16"} {
		t.Run(act, func(t *testing.T) {
			e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: act, Ctx: 64}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			assert.Equal(t, goldenStories, greedy(t, e, len(goldenStories)), "greedy tokens from BOS")
		})
	}
}
