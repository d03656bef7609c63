// Package paritytest lets a user's own `go test` assert parity:
//
//	func TestParity(t *testing.T) {
//		paritytest.RequireStepParity(t, "model.gguf", paritytest.Options{})
//		paritytest.RequireTokenParity(t, "model.gguf", paritytest.Options{N: 32})
//	}
//
// Both fail the test with the parity table (and the first failure named at
// its bottom) when a path disagrees. Importing this package links every
// path (reference, llamacpp, and dsl once it builds).
package paritytest

import (
	"bytes"
	"testing"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	_ "github.com/metallic-go/metallic/parity/paths" // link every path
	"github.com/metallic-go/metallic/sample"
)

// Options configure the helpers. The zero value compares every linked path
// (llamacpp only when installed) on the default prompt.
type Options struct {
	// Paths to compare, the first being the reference; empty means every
	// linked path.
	Paths []string
	// PathOptions go to every path. Threads 0 means GOMAXPROCS; on a busy
	// machine Threads: 1 is much faster for small models (llama.cpp's
	// workers spin).
	PathOptions model.PathOptions
	// Prompt is tokenized with the model's tokenizer; Tokens, when set,
	// are used instead.
	Prompt string
	Tokens []int32
	// Decode is the number of greedy decode steps after the prompt in step
	// parity (0 means 3).
	Decode int
	// N is the number of tokens generated in token parity (0 means 32).
	N       int
	Sampler sample.Options
	Perturb []parity.Perturbation
}

func open(t testing.TB, modelPath string, o Options) (*parity.Session, []int32) {
	t.Helper()
	so := parity.SessionOptions{Paths: o.Paths, PathOptions: o.PathOptions}
	if len(so.Paths) == 0 {
		so.Paths, so.Optional = model.PathNames(), []string{"llamacpp"}
	}
	s, err := parity.Open(modelPath, so)
	if err != nil {
		t.Fatalf("paritytest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	for n, why := range s.Skipped {
		t.Logf("paritytest: %s skipped: %s", n, why)
	}
	toks := o.Tokens
	if len(toks) == 0 {
		p := o.Prompt
		if p == "" {
			p = parity.DefaultPrompt
		}
		if toks, err = s.PromptTokens(p); err != nil {
			t.Fatalf("paritytest: %v", err)
		}
	}
	return s, toks
}

// RunSteps runs step parity and returns the report, failing t only for
// errors (not for parity failures).
func RunSteps(t testing.TB, modelPath string, o Options) *parity.Steps {
	t.Helper()
	s, toks := open(t, modelPath, o)
	decode := o.Decode
	if decode == 0 {
		decode = 3
	}
	st, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: toks, Decode: decode, Perturb: o.Perturb})
	if err != nil {
		t.Fatalf("paritytest: %v", err)
	}
	return st
}

// RequireStepParity runs every path over the prompt and a few decode steps
// and fails t (Fatal) with the table if any checkpoint fails its verdict.
func RequireStepParity(t testing.TB, modelPath string, o Options) *parity.Steps {
	t.Helper()
	st := RunSteps(t, modelPath, o)
	if st.Failed() {
		var b bytes.Buffer
		parity.PrintSteps(&b, st, parity.PrintOptions{})
		t.Fatalf("step parity fails at %s (%s vs %s):\n%s", st.FirstFailure.Checkpoint, st.FirstFailure.A, st.FirstFailure.B, b.String())
	}
	return st
}

// RequireTokenParity generates o.N tokens from every path with the same
// sampler and seed and fails t (Fatal) with the report if a stream
// diverges other than by a tie flip, or the teacher-forced KL is too large.
func RequireTokenParity(t testing.TB, modelPath string, o Options) *parity.Tokens {
	t.Helper()
	s, toks := open(t, modelPath, o)
	if len(s.Targets) < 2 {
		t.Fatalf("paritytest: token parity needs two paths, have %d", len(s.Targets))
	}
	n := o.N
	if n == 0 {
		n = 32
	}
	hooks := make([]model.Hook, len(s.Targets))
	for i, tg := range s.Targets {
		hooks[i] = parity.PerturbHook(tg, o.Perturb)
	}
	tk, err := parity.RunTokens(parity.TokensOptions{Paths: s.Paths(), Names: s.Names(), DType: s.Targets[0].DType, Prompt: toks, N: n, Sampler: o.Sampler, Hooks: hooks})
	if err != nil {
		t.Fatalf("paritytest: %v", err)
	}
	if tk.Failed() {
		var b bytes.Buffer
		parity.PrintTokens(&b, tk, parity.PrintOptions{})
		t.Fatalf("token parity fails (%s vs %s: %s at %d):\n%s", tk.A, tk.B, tk.Class, tk.FirstDivergence, b.String())
	}
	return tk
}
