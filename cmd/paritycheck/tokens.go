package main

import (
	"io"

	"github.com/metallic-go/metallic/parity"
)

func init() {
	register(command{
		name:    "tokens",
		summary: "seeded generation parity: first divergence, its class, teacher-forced KL",
		run:     runTokens,
	})
}

func runTokens(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("tokens", "tokens [MODEL] [--prompt S | --tokens 1,2] [-n N] [--temp T --top-k K --top-p P --min-p M --seed S] [--paths a,b] [--numerics plain|ggml-cpu] [--perturb P:C=R] [--json]", stderr)
	pcFlags(fs, &r, true)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := r.sampler().Validate(); err != nil {
		return usagef("%v", err)
	}
	s, ps, toks, err := pcSession(&r, fs, pos, stderr, runSizes{Generate: *r.n, Distributions: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.Targets) < 2 {
		return usagef("tokens compares two or more paths; only %s could be opened", s.Targets[0].DisplayName())
	}
	t, err := parity.RunTokens(parity.TokensOptions{Paths: s.Paths(), Names: s.Names(), DType: s.Targets[0].DType, Weights: &s.Model.Weights, Prompt: toks, N: *r.n, Sampler: r.sampler(),
		TieEps: r.tieEps, Hooks: pcHooks(s, ps), Progress: pcProgress(stderr, 2*len(s.Targets), "tokens"), Setup: s.Setup()})
	if err != nil {
		return err
	}
	if r.json {
		if err := writeJSON(stdout, struct {
			*parity.Tokens
			Skipped map[string]string `json:"skipped"`
		}{t, s.Skipped}); err != nil {
			return err
		}
	} else {
		printSkipped(stdout, s.Skipped)
		if err := parity.PrintTokens(stdout, t, parity.PrintOptions{Color: pcColor(stdout)}); err != nil {
			return err
		}
	}
	if t.Failed() {
		return pcFailure(nil, t)
	}
	return nil
}
