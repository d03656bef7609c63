package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/sample"
)

// scripted is a fake Path: the logits after position p put 10 on
// script[p] (and 0 elsewhere), and it records every Forward call.
type scripted struct {
	cfg     Config
	script  []int32 // next token wanted after each position
	calls   [][]int32
	poss    []int
	resets  int
	cached  int
	failAt  int // position whose Forward fails (0 = never)
	badRows bool
}

func (s *scripted) Name() string          { return "scripted" }
func (s *scripted) Numerics() string      { return "plain" }
func (s *scripted) Config() *Config       { return &s.cfg }
func (s *scripted) Reset()                { s.resets++; s.cached = 0 }
func (s *scripted) Checkpoints() []string { return nil }
func (s *scripted) SetHook(Hook)          {}
func (s *scripted) Close() error          { return nil }

func (s *scripted) Forward(tokens []int32, pos int) ([]float32, error) {
	s.calls = append(s.calls, append([]int32(nil), tokens...))
	s.poss = append(s.poss, pos)
	if pos != s.cached {
		return nil, errors.New("pos does not match cache")
	}
	if s.failAt > 0 && pos+len(tokens) > s.failAt {
		return nil, errors.New("context full")
	}
	s.cached += len(tokens)
	v := s.cfg.Vocab
	rows := len(tokens)
	if s.badRows {
		rows++
	}
	out := make([]float32, rows*v)
	for r := range len(tokens) {
		out[r*v+int(s.script[pos+r])] = 10
	}
	return out, nil
}

func newScripted() *scripted {
	return &scripted{cfg: Config{Vocab: 6}, script: []int32{5, 5, 5, 4, 3, 2, 1, 0, 2, 2, 2, 2}}
}

func TestGenerateGreedy(t *testing.T) {
	p := newScripted()
	var seen []int32
	res, err := Generate(p, []int32{1, 2, 3}, GenerateOptions{MaxTokens: 4, OnToken: func(id int32) { seen = append(seen, id) }})
	if err != nil {
		t.Fatal(err)
	}
	// After the prompt (positions 0..2) the last row is script[2] = 5; then
	// positions 3, 4, 5 give 4, 3, 2.
	want := []int32{5, 4, 3, 2}
	if !reflect.DeepEqual(res.Tokens, want) || !reflect.DeepEqual(seen, want) {
		t.Fatalf("tokens %v, callback %v, want %v", res.Tokens, seen, want)
	}
	if !reflect.DeepEqual(p.calls, [][]int32{{1, 2, 3}, {5}, {4}, {3}}) || !reflect.DeepEqual(p.poss, []int{0, 3, 4, 5}) {
		t.Fatalf("forward calls %v at %v", p.calls, p.poss)
	}
	if p.resets != 1 || res.DecodeCalls != 3 || res.Stopped != "length" || !reflect.DeepEqual(res.PromptTokens, []int32{1, 2, 3}) {
		t.Fatalf("resets %d decode calls %d stopped %q", p.resets, res.DecodeCalls, res.Stopped)
	}
	if res.PrefillSeconds <= 0 || res.PrefillTokPerSec() <= 0 {
		t.Fatalf("prefill timing %v", res.PrefillSeconds)
	}
}

func TestGenerateEOS(t *testing.T) {
	p := newScripted()
	res, err := Generate(p, []int32{0}, GenerateOptions{MaxTokens: 20, StopAtEOS: true, EOS: 3})
	if err != nil {
		t.Fatal(err)
	}
	// script from position 0: 5, 5, 5, 4, 3 → stops after producing 3.
	if !reflect.DeepEqual(res.Tokens, []int32{5, 5, 5, 4, 3}) || res.Stopped != "eos" {
		t.Fatalf("tokens %v stopped %q", res.Tokens, res.Stopped)
	}
	if len(p.calls) != 5 {
		t.Fatalf("%d forward calls, want 5 (no forward after EOS)", len(p.calls))
	}
}

func TestGenerateSeeded(t *testing.T) {
	// Flat logits: every token equally likely, so the stream is the sampler's.
	p := &scripted{cfg: Config{Vocab: 6}, script: make([]int32, 40)}
	opts := GenerateOptions{MaxTokens: 12, Sampler: sample.Options{Temperature: 100, Seed: 9}}
	a, err := Generate(p, []int32{1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(p, []int32{1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Tokens, b.Tokens) {
		t.Fatalf("same seed, different streams: %v vs %v", a.Tokens, b.Tokens)
	}
	// Replay with a bare sampler on the same rows.
	s := sample.New(opts.Sampler)
	hist := []int32{1}
	row := make([]float32, 6)
	row[0] = 10
	for i, id := range a.Tokens {
		if got := s.Sample(row, hist); got != id {
			t.Fatalf("token %d: Generate %d, bare sampler %d", i, id, got)
		}
		hist = append(hist, id)
	}
	distinct := map[int32]bool{}
	for _, id := range a.Tokens {
		distinct[id] = true
	}
	if len(distinct) < 3 {
		t.Fatalf("temperature 100 gave only %v", a.Tokens)
	}
}

func TestGenerateErrors(t *testing.T) {
	cases := []struct {
		name    string
		prompt  []int32
		opts    GenerateOptions
		setup   func(*scripted)
		want    string
		partial int
	}{
		{"empty prompt", nil, GenerateOptions{MaxTokens: 1}, nil, "at least one prompt token", 0},
		{"bad id", []int32{1, 6}, GenerateOptions{MaxTokens: 1}, nil, "prompt token 6 at position 1", 0},
		{"negative", []int32{1}, GenerateOptions{MaxTokens: -1}, nil, "negative", 0},
		{"bad sampler", []int32{1}, GenerateOptions{MaxTokens: 1, Sampler: sample.Options{TopP: 2}}, nil, "top-p", 0},
		{"bad eos", []int32{1}, GenerateOptions{MaxTokens: 1, StopAtEOS: true, EOS: -1}, nil, "EOS id -1", 0},
		{"context", []int32{1, 2}, GenerateOptions{MaxTokens: 8}, func(s *scripted) { s.failAt = 3 }, "decode at position 3 on scripted: context full", 2},
		{"rows", []int32{1, 2}, GenerateOptions{MaxTokens: 2}, func(s *scripted) { s.badRows = true }, "returned 18 logits for 2 positions × vocab 6", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newScripted()
			if c.setup != nil {
				c.setup(p)
			}
			res, err := Generate(p, c.prompt, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if c.partial > 0 && (res == nil || len(res.Tokens) != c.partial) {
				t.Fatalf("partial result %+v, want %d tokens", res, c.partial)
			}
		})
	}
}
