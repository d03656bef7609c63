package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/repro"
)

func init() {
	register(command{
		name:    "repro",
		summary: "write a self-contained folder reproducing the dispatch that produces one checkpoint (sources, inputs, runners)",
		run:     runRepro,
	})
}

// reproJSON is repro's JSON object.
type reproJSON struct {
	Out        string            `json:"out"`
	Checkpoint string            `json:"checkpoint"`
	Path       string            `json:"path"`
	Backend    string            `json:"backend"`
	Numerics   string            `json:"numerics"`
	Calls      int               `json:"calls"`
	Kernels    []string          `json:"kernels"`
	Runners    []string          `json:"runners"`
	Unusable   map[string]string `json:"unusable"`
	Row        parity.Row        `json:"row"`
}

// pathBackend resolves the path and backend of a one-path command from
// --path (PATH or PATH@BACKEND) and --backend: the one place to switch to
// model.ParsePathRef once PATH@BACKEND naming is everywhere.
func pathBackend(fs *flag.FlagSet, path, backend string) (string, string, error) {
	p, b, at := strings.Cut(path, "@")
	if !at {
		return path, backend, nil
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "backend" })
	switch {
	case p == "" || b == "":
		return "", "", usagef("--path %q: want PATH or PATH@BACKEND (e.g. dsl@cuda)", path)
	case set && b != backend:
		return "", "", usagef("--path %s names backend %s and --backend says %s: give one", path, b, backend)
	}
	return p, b, nil
}

func runRepro(args []string, stdout, stderr io.Writer) error {
	var (
		r                     pcRun
		checkpoint, path, out string
		runDir                string
	)
	fs := newFlags("repro", "repro [MODEL] --checkpoint C [--path dsl|reference[@BACKEND]] [--backend B] --out DIR [--unfuse] [--prompt S | --tokens 1,2] [--decode N] [--dtype f32|f16] [--numerics plain|ggml-cpu] [--perturb P:C=R] [--json]\n       repro [MODEL] --run DIR", stderr)
	fs.StringVar(&checkpoint, "checkpoint", "", "the checkpoint whose dispatch to reproduce, e.g. blk.1.ffn_act (with --unfuse also a stage checkpoint, e.g. blk.1.ffn_act.swiglu)")
	fs.StringVar(&path, "path", "dsl", "the path: dsl or reference, optionally PATH@BACKEND (dsl@cuda)")
	fs.StringVar(&out, "out", "", "the folder to write (must not exist or be empty)")
	fs.StringVar(&runDir, "run", "", "instead of writing a folder, run the repro `DIR` on the cpu backend in Go (the runner of a path that ran on the cpu backend; MODEL is the model it was written from)")
	fs.StringVar(&r.prompt, "prompt", "", "prompt text (default \""+parity.DefaultPrompt+"\")")
	fs.Var(&r.tokens, "tokens", "prompt token `ids`, e.g. 1,403,407 (instead of --prompt)")
	fs.StringVar(&r.dtype, "dtype", "f32", "activation storage dtype: f32 or f16")
	fs.StringVar(&r.backend, "backend", "cpu", "backend of the path")
	fs.StringVar(&r.numerics, "numerics", "", numericsHelp)
	fs.StringVar(&r.spec, "spec", "", "JSON model spec file for the dsl path (default: the embedded spec of the architecture)")
	threadsVar(fs, &r.threads, 1, "")
	fs.Var(&r.perturb, "perturb", "PATH:CHECKPOINT=REL: multiply the checkpoint by (1+REL·u) as the run produces it (repeatable); the runners apply it too")
	fs.Uint64Var(&r.perturbSeed, "perturb-seed", 1, "seed of the --perturb RNG (SplitMix64)")
	fs.BoolVar(&r.json, "json", false, "print one JSON object")
	r.decode = countVar(fs, "decode", 3, 0, "`N` greedy decode steps after the prompt, as step parity runs them")
	r.attn = addAttnFlags(fs)
	unfuseFlag(fs, &r.unfuse)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("repro", pos)
	if err != nil {
		return err
	}
	if runDir != "" {
		return runReproCPU(fs, runDir, arg, stdout)
	}
	p, be, err := pathBackend(fs, path, r.backend)
	if err != nil {
		return err
	}
	r.backend = be
	switch {
	case checkpoint == "":
		return usagef("repro needs --checkpoint (e.g. --checkpoint blk.1.ffn_act)")
	case out == "":
		return usagef("repro needs --out DIR")
	case p != "dsl" && p != "reference":
		return usagef("--path %s: repro runs the dsl or the reference path (their kernels are metallic's)", p)
	}
	if err := checkNumerics(r.numerics); err != nil {
		return err
	}
	if err := r.attn.check(); err != nil {
		return err
	}
	if _, err := parity.ParseDType(r.dtype); err != nil || r.dtype == "bf16" {
		return usagef("--dtype %q: want f32 or f16", r.dtype)
	}
	if err := checkScope(fs, runScope{Paths: []string{p}, Backend: r.backend, Numerics: r.numerics, FlashAttn: r.attn.on(),
		Perturbs: len(r.perturb) > 0, JSON: r.json}); err != nil {
		return err
	}
	var ps []parity.Perturbation
	for _, s := range r.perturb {
		pt, err := parity.ParsePerturb(s)
		if err != nil {
			return usagef("%v", err)
		}
		if pt.Path != p && pt.Path != p+model.UnfusedSuffix {
			return usagef("--perturb %s: repro runs path %s only", s, p)
		}
		pt.Path, pt.Seed = p, r.perturbSeed
		if r.unfuse {
			pt.Path = p + model.UnfusedSuffix
		}
		ps = append(ps, pt)
	}
	file, err := modelPath(arg)
	if err != nil {
		return err
	}
	opts := model.PathOptions{Backend: r.backend, ActDType: r.dtype, Threads: r.threads, Spec: r.spec, Numerics: r.numerics, Unfuse: r.unfuse}
	r.attn.set(&opts)
	m, err := model.Open(file)
	if err != nil {
		return err
	}
	toks := r.tokens.ids
	if toks != nil {
		err = checkVocab(toks, m.Config.Vocab)
	} else {
		s := &parity.Session{Model: m}
		pr := r.prompt
		if pr == "" {
			pr = parity.DefaultPrompt
		}
		toks, err = s.PromptTokens(pr)
	}
	if err == nil {
		err = checkSizes(&m.Config, runSizes{Opts: opts, Paths: 1, Prompt: len(toks), Decode: *r.decode, Capture: true})
	}
	m.Close()
	if err != nil {
		return err
	}
	res, err := repro.Write(repro.Options{File: file, Path: p, PathOptions: opts, Checkpoint: checkpoint,
		Prompt: toks, Decode: *r.decode, Perturb: ps, Out: out})
	if errors.Is(err, repro.ErrUnsupported) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	man := res.Manifest
	if r.json {
		var ks []string
		for _, k := range man.Kernels {
			ks = append(ks, k.Name)
		}
		return writeJSON(stdout, reproJSON{Out: out, Checkpoint: checkpoint, Path: man.Path, Backend: man.Backend, Numerics: man.Numerics,
			Calls: len(man.Calls), Kernels: ks, Runners: man.Runners, Unusable: man.Unusable, Row: res.Row})
	}
	row := res.Row
	fmt.Fprintf(stdout, "repro of %s (%s) on %s, numerics %s: %d calls of %d kernel(s), written to %s\n",
		checkpoint, man.Path, man.Backend, man.Numerics, len(man.Calls), len(man.Kernels), out)
	fmt.Fprintf(stdout, "step table: %s vs local: max_abs %.3g mean_abs %.3g nmse %.3g cos %.9f max_ulp %d bound %.3g %s\n",
		row.A, float64(row.MaxAbs), float64(row.MeanAbs), float64(row.NMSE), float64(row.Cos), row.MaxULP, float64(row.Bound), row.Verdict)
	for what, why := range man.Unusable {
		fmt.Fprintf(stdout, "no %s runner: %s\n", what, why)
	}
	if man.Backend == "cpu" {
		// The cpu backend ran Go code: only the Go runner reproduces it
		// exactly; the host runners execute the GPU sources on the CPU.
		model := ""
		if arg != "" {
			abs, err := filepath.Abs(arg)
			if err != nil {
				return err
			}
			model = "MODEL=" + abs + " "
		}
		fmt.Fprintf(stdout, "run it: %s%s/run.sh cpu   (what the cpu backend ran, exactly; host runs the CUDA/MSL sources on the CPU, cuda on an NVIDIA GPU, metal on a Mac; see %s/README.md)\n", model, out, out)
	} else {
		fmt.Fprintf(stdout, "run it: %s/run.sh %s   (host runs the same sources on the CPU; see %s/README.md)\n", out, map[bool]string{true: "metal", false: "cuda"}[man.Backend == "metal"], out)
	}
	if _, err := os.Stat(out); err != nil {
		return err
	}
	return nil
}

// runReproCPU is repro --run: the Go runner of a repro folder (repro.RunCPU).
func runReproCPU(fs *flag.FlagSet, dir, arg string, stdout io.Writer) error {
	var other []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "run" {
			other = append(other, "--"+f.Name)
		}
	})
	if len(other) > 0 {
		return usagef("repro --run replays a folder as it was recorded: %s do not apply", strings.Join(other, ", "))
	}
	file, err := modelPath(arg)
	if err != nil {
		return err
	}
	f, err := repro.RunCPU(dir, file, stdout)
	if err != nil {
		return err
	}
	if !f.Identical {
		return fmt.Errorf("%w: the cpu runner's figures differ from the step table's", errParity)
	}
	return nil
}
