package dsl

import (
	"fmt"
	"testing"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// goldenStories are stories260K's first 48 greedy tokens from BOS, as
// llama2.c documents and llama.cpp reproduces (DESIGN.md).
var goldenStories = []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
	401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
	328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267}

func greedy(t *testing.T, p model.Path, n int) []int32 {
	t.Helper()
	tok, pos := int32(1), 0
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
			got := greedy(t, e, len(goldenStories))
			if fmt.Sprint(got) != fmt.Sprint(goldenStories) {
				t.Fatalf("greedy tokens\n got %v\nwant %v", got, goldenStories)
			}
		})
	}
}
