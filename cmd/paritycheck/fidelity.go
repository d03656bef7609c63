package main

import (
	"fmt"
	"io"

	"github.com/metallic-go/metallic/parity"
)

func init() {
	register(command{
		name:    "fidelity",
		summary: "teacher-forced op fidelity: each op of one path on another's inputs (bit for bit, or against the float64 oracle)",
		run:     runFidelity,
	})
}

// runFidelity runs parity.RunFidelity: every checkpoint of the first path
// recomputed from the second path's inputs (default reference on
// llamacpp's). Where parity.BitIdentity promises bit identity (the
// reference under ggml-cpu and llama.cpp on an AVX-512 libggml-cpu build)
// an op that differs is exit 1. Elsewhere — two backends (fidelity
// --paths reference@cuda,reference@cpu), plain numerics — each op of the
// first path is judged against its float64 local oracle recomputed from
// the same inputs, and exit 1 names the first op out of its bound.
func runFidelity(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("fidelity", "fidelity [MODEL] [--prompt S | --tokens 1,2] [--decode N] [--paths a,b] [--backend B] [--numerics plain|ggml-cpu] [--perturb P:C=R] [--json]", stderr)
	pcFlags(fs, &r, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if r.paths == "" {
		r.paths = "reference,llamacpp"
	}
	s, ps, toks, err := pcSession(&r, fs, pos, stderr, runSizes{Decode: *r.decode, Capture: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.Targets) != 2 {
		return usagef("fidelity compares exactly two paths (--paths a,b), got %d", len(s.Targets))
	}
	a, b := s.Targets[0], s.Targets[1]
	for _, p := range ps {
		if !a.Matches(p.Path) {
			return usagef("--perturb %s: fidelity perturbs the first path (%s) only: %s supplies the inputs", p, a.DisplayName(), b.DisplayName())
		}
	}
	// Which pairs promise bit identity is parity's policy (it depends on
	// the numerics and backends of the paths and on llama.cpp's build);
	// where none is promised, every op is judged against the oracle.
	promise := parity.BitIdentity(a.Path, b.Path, s.Model)
	fo := parity.FidelityOptions{A: a, B: b, Prompt: toks, Decode: *r.decode, Perturb: pcHooks(s, ps)[0]}
	if !promise.BitIdentical {
		fo.Weights = &s.Model.Weights
	}
	f, err := parity.RunFidelity(fo)
	if err != nil {
		return err
	}
	f.Setup = s.Setup()
	f.Promise = &promise
	if r.json {
		if err := writeJSON(stdout, f); err != nil {
			return err
		}
	} else {
		printPeer(stdout, []string{f.A, f.B}, f.Numerics)
		if err := parity.PrintFidelity(stdout, f); err != nil {
			return err
		}
		if !promise.BitIdentical {
			fmt.Fprintln(stdout, promise.Why)
		}
	}
	switch {
	case f.Failed():
		r := f.FirstFailure
		return fmt.Errorf("%w: %s's op %s (layer %d, %s) is out of its bound given %s's inputs: nmse %.3g against its float64 oracle, bound %.3g",
			errParity, f.A, r.Checkpoint, r.Layer, r.Op, f.B, float64(r.OracleNMSE), float64(r.Bound))
	case !f.Identical && promise.BitIdentical:
		return fmt.Errorf("%w: %s's op %s differs from %s's given the same inputs (%d of %d values)", errParity, f.A, f.FirstDiffer.Checkpoint, f.B, f.FirstDiffer.Differ, f.FirstDiffer.Values)
	}
	return nil
}
