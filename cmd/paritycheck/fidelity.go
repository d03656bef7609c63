package main

import (
	"fmt"
	"io"

	"github.com/metallic-go/metallic/parity"
)

func init() {
	register(command{
		name:    "fidelity",
		summary: "teacher-forced op fidelity: each op of one path on another's inputs, bit for bit",
		run:     runFidelity,
	})
}

// runFidelity runs parity.TeacherForce: every checkpoint of the first path
// recomputed from the second path's inputs (default reference on
// llamacpp's). Exit 1 when an op differs where parity.BitIdentity
// promises bit identity (the reference under ggml-cpu and llama.cpp on an
// AVX-512 libggml-cpu build); otherwise differences are reported with
// exit 0.
func runFidelity(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("fidelity", "fidelity [MODEL] [--prompt S | --tokens 1,2] [--decode N] [--paths a,b] [--numerics plain|ggml-cpu] [--perturb P:C=R] [--json]", stderr)
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
	a, b := s.Targets[0].Path, s.Targets[1].Path
	for _, p := range ps {
		if p.Path != a.Name() {
			return usagef("--perturb %s: fidelity perturbs the first path (%s) only: %s supplies the inputs", p, a.Name(), b.Name())
		}
	}
	f, err := parity.TeacherForce(a, b, toks, *r.decode, pcHooks(s, ps)[0])
	if err != nil {
		return err
	}
	f.Setup = s.Setup()
	// Which pairs promise bit identity is parity's policy (it depends on
	// the numerics the paths declare and on llama.cpp's build).
	promise := parity.BitIdentity(a, b, s.Model)
	f.Promise = &promise
	if r.json {
		if err := writeJSON(stdout, f); err != nil {
			return err
		}
	} else {
		printPeer(stdout, []string{a.Name(), b.Name()}, f.Numerics)
		if err := parity.PrintFidelity(stdout, f); err != nil {
			return err
		}
		if !promise.BitIdentical {
			fmt.Fprintln(stdout, promise.Why)
		}
	}
	if !f.Identical && promise.BitIdentical {
		return fmt.Errorf("%w: %s's op %s differs from %s's given the same inputs (%d of %d values)", errParity, a.Name(), f.FirstDiffer.Checkpoint, b.Name(), f.FirstDiffer.Differ, f.FirstDiffer.Values)
	}
	return nil
}
