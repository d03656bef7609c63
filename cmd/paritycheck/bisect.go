package main

import (
	"fmt"
	"io"

	"github.com/metallic-go/metallic/parity"
)

func init() {
	register(command{
		name:    "bisect",
		summary: "name the first checkpoint (execution order) whose local error fails, its op and layer",
		run:     runBisect,
	})
}

func runBisect(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("bisect", "bisect [MODEL] [--paths a[,b]] [--numerics plain|ggml-cpu] [--no-oracle] [--prompt S | --tokens 1,2] [--perturb P:C=R] [--unfuse] [--json]", stderr)
	pcFlags(fs, &r, false)
	fs.BoolVar(&r.noOracle, "no-oracle", false, "compare two paths with each other, without the float64 oracle")
	unfuseFlag(fs, &r.unfuse)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	stepsGC()
	s, ps, toks, err := pcSession(&r, fs, pos, stderr, runSizes{Decode: *r.decode, Capture: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if r.noOracle && len(s.Targets) < 2 {
		return usagef("--no-oracle needs two paths (--paths a,b)")
	}
	steps, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: toks,
		Decode: *r.decode, Perturb: ps, NoOracle: r.noOracle, Progress: pcProgress(stderr, len(s.Targets)+1, "bisect"), DropCaptures: true, File: s.File})
	if err != nil {
		return err
	}
	b, err := parity.Bisect(steps)
	if err != nil {
		return err
	}
	if r.json {
		if err := writeJSON(stdout, struct {
			*parity.BisectResult
			Skipped map[string]string `json:"skipped"`
		}{b, s.Skipped}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout, b.Setup.Header())
		fmt.Fprintln(stdout, parity.NumericsLine(steps.Paths, steps.Numerics))
		printSkipped(stdout, s.Skipped)
		if b.Found {
			fmt.Fprintf(stdout, "first failing checkpoint: %s\n", b.Checkpoint)
			if b.Stage != "" {
				fmt.Fprintf(stdout, "  stage:    %s of the kernel that produces %s\n", b.Stage, b.Of)
			}
			if b.Composition {
				fmt.Fprintf(stdout, "  fault:    in the composition (the unfused stages pass)\n")
			}
			fmt.Fprintf(stdout, "  layer:    %d\n  op:       %s\n  path:     %s (vs %s)\n  evidence: %s\n",
				b.Layer, b.Op, b.Path, b.Against, b.Evidence)
		} else {
			fmt.Fprintf(stdout, "no checkpoint fails: %s\n", b.Evidence)
		}
	}
	if b.Found {
		return fmt.Errorf("%w: %s fails (%s, layer %d) on %s", errParity, b.Checkpoint, b.Op, b.Layer, b.Path)
	}
	return nil
}
