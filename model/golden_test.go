package model_test

import (
	"reflect"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/reference" // registers the reference path
	"github.com/metallic-go/metallic/sample"
)

// TestGenerateStoriesGolden runs Generate over the reference path and checks
// the 48 golden greedy tokens, then checks that a seeded sampled run is
// reproducible and differs from greedy.
func TestGenerateStoriesGolden(t *testing.T) {
	m, err := model.Open(testenv.Stories(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := model.OpenPath("reference", m, model.PathOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storiesGreedy := testenv.StoriesGreedy()
	var streamed []int32
	res, err := model.Generate(p, []int32{1}, model.GenerateOptions{
		MaxTokens: len(storiesGreedy),
		OnToken:   func(id int32) { streamed = append(streamed, id) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Tokens, storiesGreedy) || !reflect.DeepEqual(streamed, storiesGreedy) {
		t.Fatalf("greedy tokens\n got %v\nwant %v", res.Tokens, storiesGreedy)
	}
	if res.DecodeCalls != len(storiesGreedy)-1 || res.DecodeTokPerSec() <= 0 {
		t.Fatalf("decode calls %d, %v tok/s", res.DecodeCalls, res.DecodeTokPerSec())
	}
	opts := model.GenerateOptions{MaxTokens: 32, Sampler: sample.Options{Temperature: 1, TopK: 40, TopP: 0.95, Seed: 1337}, StopAtEOS: true, EOS: 2}
	a, err := model.Generate(p, []int32{1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Generate(p, []int32{1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Tokens, b.Tokens) {
		t.Fatalf("seeded runs differ:\n%v\n%v", a.Tokens, b.Tokens)
	}
	if reflect.DeepEqual(a.Tokens, storiesGreedy[:len(a.Tokens)]) {
		t.Fatalf("sampling at temperature 1 reproduced greedy: %v", a.Tokens)
	}
}
