package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"

	"github.com/metallic-go/metallic/llamacpp"
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
// llamacpp's). Exit 1 when an op differs where bit identity is promised
// (reference and llamacpp, llama.cpp on an AVX-512 libggml-cpu build);
// otherwise differences are reported with exit 0.
func runFidelity(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("fidelity", "fidelity [MODEL] [--prompt S | --tokens 1,2] [--decode N] [--paths a,b] [--perturb P:C=R] [--json]", stderr)
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
	// Bit identity is promised between the reference path and llama.cpp
	// on an AVX-512 libggml-cpu build (backend/ggmlnum); any other pair or
	// build is reported, not failed.
	strict, note := false, ""
	if pair := map[string]bool{a.Name(): true, b.Name(): true}; !pair["reference"] || !pair["llamacpp"] {
		note = fmt.Sprintf("no bit identity is promised between %s and %s: differences are reported, not failed", a.Name(), b.Name())
	} else if v, err := llamacpp.CPUVariant(); err != nil {
		note = err.Error()
	} else if !llamacpp.AVX512Variant(v) {
		note = fmt.Sprintf("llama.cpp runs libggml-cpu-%s, not an AVX-512 build: differences in the last bits are expected", v)
	} else if bad := inexactWeights(s.Model, llamacpp.AVX512BF16Variant(v)); len(bad) > 0 {
		note = "the reference does not reproduce llama.cpp's kernels for " + strings.Join(bad, ", ") + " on libggml-cpu-" + v + ": differences there are expected"
	} else {
		strict = true
	}
	if r.json {
		if err := writeJSON(stdout, f); err != nil {
			return err
		}
	} else {
		printPeer(stdout, []string{a.Name(), b.Name()})
		if err := parity.PrintFidelity(stdout, f); err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintln(stdout, note)
		}
	}
	if !f.Identical && strict {
		return fmt.Errorf("%w: %s's op %s differs from %s's given the same inputs (%d of %d values)", errParity, a.Name(), f.FirstDiffer.Checkpoint, b.Name(), f.FirstDiffer.Differ, f.FirstDiffer.Values)
	}
	return nil
}

// inexactWeights lists the matrices (as "name (type)", at most 5, then
// "…") whose matmul backend/cpu does not reproduce bit for bit; BF16 only
// with bf16 (a libggml-cpu build with AVX512_BF16).
func inexactWeights(m *model.Model, bf16 bool) []string {
	var ws []*model.Weight
	w := &m.Weights
	ws = append(ws, &w.Output)
	for i := range w.Layers {
		l := &w.Layers[i]
		ws = append(ws, &l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down)
	}
	var bad []string
	for _, x := range ws {
		if x.Data == nil || cpu.GGMLExact(x.Type, x.N) && (bf16 || x.Type != gguf.TypeBF16) {
			continue
		}
		if len(bad) == 5 {
			bad = append(bad, "…")
			break
		}
		bad = append(bad, fmt.Sprintf("%s (%v)", x.Name, x.Type))
	}
	return bad
}
