package model_test

import (
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/reference" // registers the reference path
	"github.com/metallic-go/metallic/sample"
)

// storiesGreedy is the documented greedy continuation of BOS on
// stories260K (llama2.c; llama.cpp reproduces it).
var storiesGreedy = []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395,
	317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
	328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267}

// TestGenerateStoriesGolden runs Generate over the reference path and checks
// the 48 golden greedy tokens, then checks that a seeded sampled run is
// reproducible and differs from greedy.
func TestGenerateStoriesGolden(t *testing.T) {
	_, me, _, _ := runtime.Caller(0)
	m, err := model.Open(filepath.Join(filepath.Dir(me), "..", "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := model.OpenPath("reference", m, model.PathOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
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
