package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/metallic-go/metallic/parity"
)

func init() {
	register(command{
		name:    "steps",
		summary: "checkpoint-by-checkpoint parity of the paths against float64 oracles and each other",
		run:     runSteps,
	})
}

// stepsJSON is steps' JSON object: parity.Steps and the paths skipped.
type stepsJSON struct {
	*parity.Steps
	Skipped map[string]string `json:"skipped"`
}

// stepsGC sets the collector of a step-parity run (steps, bisect,
// report) to collect at 1.5× the live heap instead of 2×, unless GOGC is
// set: the run's live heap is small (a few checkpoints and the captures
// not yet judged) and its garbage large (every float64 oracle result),
// so this lowers the peak resident set by tens of MB at little CPU
// (docs/PERFORMANCE.md, "steps on the 0.5B model").
func stepsGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

func runSteps(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("steps", "steps [MODEL] [--prompt S | --tokens 1,2] [--paths reference,dsl,llamacpp] [--numerics plain|ggml-cpu] [--perturb P:C=R] [--unfuse] [--plot F.png] [--explain] [--all] [--json]", stderr)
	pcFlags(fs, &r, false)
	fs.BoolVar(&r.explain, "explain", false, "print the verdict rules and thresholds")
	fs.BoolVar(&r.all, "all", false, "also print the drift rows (path vs global oracle)")
	fs.StringVar(&r.plot, "plot", "", "write the error heatmap (checkpoint × layer, one panel per comparison) to this PNG file")
	fs.BoolVar(&r.noOracle, "no-oracle", false, "compare the paths with each other only")
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
	steps, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: toks,
		Decode: *r.decode, Perturb: ps, NoOracle: r.noOracle, Progress: pcProgress(stderr, len(s.Targets)+1, "steps"), DropCaptures: true, File: s.File})
	if err != nil {
		return err
	}
	if r.plot != "" {
		if err := parity.WritePlot(steps, r.plot); err != nil {
			return err
		}
	}
	if r.json {
		if err := writeJSON(stdout, stepsJSON{steps, s.Skipped}); err != nil {
			return err
		}
	} else {
		if r.explain {
			parity.Explain(stdout)
			fmt.Fprintln(stdout)
		}
		printPeer(stdout, steps.Paths, steps.Numerics)
		printSkipped(stdout, s.Skipped)
		if err := parity.PrintSteps(stdout, steps, parity.PrintOptions{Color: pcColor(stdout), All: r.all}); err != nil {
			return err
		}
	}
	if steps.Failed() {
		return pcFailure(steps, nil)
	}
	return nil
}
