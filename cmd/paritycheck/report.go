package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	_ "github.com/metallic-go/metallic/parity/paths" // link every path
	"github.com/metallic-go/metallic/sample"
)

func init() {
	register(command{
		name:    "report",
		summary: "full parity report: steps of every path + token parity (the default)",
		run:     runReport,
	})
}

// pcRun holds the flags shared by report, steps, tokens, bisect and
// fidelity.
type pcRun struct {
	paths, prompt, dtype, backend, spec string
	numerics                            string
	tokens                              tokensValue
	threads                             int
	decode, n                           *int
	perturb                             pcList
	json, explain, all, noOracle        bool
	unfuse                              bool // --unfuse: also open dsl's unfused twin
	samples                             bool // the command has the sampler flags (token parity)
	plot, html                          string
	temp, topP, minP, tieEps            float64
	topK                                int
	seed, perturbSeed                   uint64
	attn                                *attnFlags
}

// pcList is a repeatable string flag.
type pcList []string

func (l *pcList) String() string     { return strings.Join(*l, ",") }
func (l *pcList) Set(s string) error { *l = append(*l, s); return nil }

// pcFlags registers the shared flags; tokens adds the sampler ones.
func pcFlags(fs *flag.FlagSet, r *pcRun, sampler bool) {
	fs.StringVar(&r.paths, "paths", "", "comma-separated paths, PATH or PATH@BACKEND (reference@cuda; a bare name runs on --backend, llamacpp on cpu), the first is the reference (default: every linked path; llamacpp when installed, unless "+llamacpp.EnvDir+" asks for it)")
	fs.StringVar(&r.prompt, "prompt", "", "prompt text (default \""+parity.DefaultPrompt+"\")")
	fs.Var(&r.tokens, "tokens", "prompt token `ids`, e.g. 1,403,407 (instead of --prompt)")
	fs.StringVar(&r.dtype, "dtype", "f32", "activation storage dtype of the paths: f32 or f16")
	fs.StringVar(&r.backend, "backend", "cpu", "backend of the paths named without one (PATH@BACKEND names its own)")
	fs.StringVar(&r.numerics, "numerics", "", numericsHelp)
	fs.StringVar(&r.spec, "spec", "", "JSON model spec file for the dsl path (default: the embedded spec of the architecture)")
	threadsVar(fs, &r.threads, 1, threadsFlashNote+"; 1 by default: the models parity runs on are small, and llama.cpp's spinning workers crawl on a loaded machine")
	fs.Var(&r.perturb, "perturb", "PATH:CHECKPOINT=REL (PATH may be PATH@BACKEND): multiply the checkpoint by (1+REL·u), u seeded uniform in [-1,1] (repeatable)")
	fs.Uint64Var(&r.perturbSeed, "perturb-seed", 1, "seed of the --perturb RNG (SplitMix64)")
	fs.BoolVar(&r.json, "json", false, "print one JSON object")
	r.decode = countVar(fs, "decode", 3, 0, "`N` greedy decode steps after the prompt in step parity")
	r.n = new(int)
	r.samples = sampler
	r.attn = addAttnFlags(fs)
	if sampler {
		r.n = countVar(fs, "n", 32, 1, "`N` tokens to generate")
		fs.Float64Var(&r.temp, "temp", 0, "sampling temperature (0 = greedy)")
		fs.IntVar(&r.topK, "top-k", 0, "top-k (0 = off)")
		fs.Float64Var(&r.topP, "top-p", 0, "top-p (0 or 1 = off)")
		fs.Float64Var(&r.minP, "min-p", 0, "min-p (0 = off)")
		fs.Uint64Var(&r.seed, "seed", 0, "sampler seed")
		fs.Float64Var(&r.tieEps, "tie-eps", parity.TieEps, "top-2 logit gap under which a divergence is a tie_flip")
	}
}

func (r *pcRun) sampler() sample.Options {
	return sample.Options{Temperature: float32(r.temp), TopK: r.topK, TopP: float32(r.topP), MinP: float32(r.minP), Seed: r.seed}
}

// scope describes a run over paths for checkScope: token parity (the
// sampler flags) runs when the command has it and two paths run.
func (r *pcRun) scope(paths []string) runScope {
	return runScope{Paths: paths, Backend: r.backend, Numerics: r.numerics, FlashAttn: r.attn.on(),
		Generates: r.samples && len(paths) >= 2, Greedy: r.sampler().Greedy(), Perturbs: len(r.perturb) > 0, JSON: r.json}
}

// pcSession checks the flags (their values, then checkScope before and
// after the paths open), opens the model and paths, checks --perturb
// (parity.CheckPerturbations) and the sizes (checkSizes with sz, whose
// Opts, Paths and Prompt it fills). Without --paths every linked path is
// opened and llamacpp is optional: skipped, with the reason in s.Skipped,
// when it does not load — unless METALLIC_LLAMACPP_DIR asks for it.
func pcSession(r *pcRun, fs *flag.FlagSet, pos []string, stderr io.Writer, sz runSizes) (*parity.Session, []parity.Perturbation, []int32, error) {
	arg, err := modelArg("paritycheck", pos)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkNumerics(r.numerics); err != nil {
		return nil, nil, nil, err
	}
	if err := r.attn.check(); err != nil {
		return nil, nil, nil, err
	}
	so := parity.SessionOptions{PathOptions: model.PathOptions{Backend: r.backend, ActDType: r.dtype, Threads: r.threads, Spec: r.spec, Numerics: r.numerics},
		Unfuse: r.unfuse}
	r.attn.set(&so.PathOptions)
	if r.paths == "" {
		so.Paths = model.PathNames()
		if os.Getenv(llamacpp.EnvDir) == "" {
			so.Optional = []string{"llamacpp"}
		}
	} else {
		for _, p := range strings.Split(r.paths, ",") {
			if p = strings.TrimSpace(p); p != "" {
				so.Paths = append(so.Paths, p)
			}
		}
	}
	if err := checkScope(fs, r.scope(so.Paths)); err != nil {
		return nil, nil, nil, err
	}
	if _, err := parity.ParsePaths(so.Paths, r.backend); err != nil {
		return nil, nil, nil, usagef("--paths %s: %v", r.paths, err)
	}
	file, err := modelPath(arg)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := parity.ParseDType(r.dtype); err != nil || r.dtype == "bf16" {
		return nil, nil, nil, usagef("--dtype %q: want f32 or f16", r.dtype)
	}
	var ps []parity.Perturbation
	for _, s := range r.perturb {
		p, err := parity.ParsePerturb(s)
		if err != nil {
			return nil, nil, nil, usagef("%v", err)
		}
		p.Seed = r.perturbSeed
		ps = append(ps, p)
	}
	s, err := parity.Open(file, so)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*parity.Session, []parity.Perturbation, []int32, error) {
		s.Close()
		return nil, nil, nil, err
	}
	for _, n := range slices.Sorted(maps.Keys(s.Skipped)) {
		fmt.Fprintf(stderr, "paritycheck: %s skipped: %s\n", n, s.Skipped[n])
	}
	var names []string // the paths opened, as asked for
	for _, p := range so.Paths {
		ref, _ := model.ParsePathRef(p, r.backend)
		if slices.ContainsFunc(s.Targets, func(t parity.Target) bool { return t.Ref() == ref }) {
			names = append(names, p)
		}
	}
	if err := checkScope(fs, r.scope(names)); err != nil {
		return fail(err)
	}
	ps = parity.ResolvePerturbations(ps, s.Targets, r.backend)
	if err := parity.CheckPerturbations(s.Targets, ps); err != nil {
		return fail(usagef("%v", err))
	}
	var toks []int32
	if r.tokens.ids != nil {
		toks = r.tokens.ids
		err = checkVocab(toks, s.Model.Config.Vocab)
	} else {
		p := r.prompt
		if p == "" {
			p = parity.DefaultPrompt
		}
		toks, err = s.PromptTokens(p)
	}
	if err != nil {
		return fail(err)
	}
	sz.Opts, sz.Paths, sz.Prompt = so.PathOptions, len(s.Targets), len(toks)
	if !r.scope(names).Generates {
		sz.Generate, sz.Distributions = 0, false
	}
	if err := checkSizes(&s.Model.Config, sz); err != nil {
		return fail(err)
	}
	return s, ps, toks, nil
}

// printSkipped tells, in a text report, which optional paths were skipped
// and why.
func printSkipped(w io.Writer, skipped map[string]string) {
	for _, n := range slices.Sorted(maps.Keys(skipped)) {
		fmt.Fprintf(w, "%s skipped: %s\n", n, skipped[n])
	}
}

// checkHTMLFile refuses an --html file name that does not end in .html
// or .htm ("" = no --html).
func checkHTMLFile(name string) error {
	if name != "" && !strings.EqualFold(filepath.Ext(name), ".html") && !strings.EqualFold(filepath.Ext(name), ".htm") {
		return usagef("--html %q: the file name must end in .html", name)
	}
	return nil
}

// pcTerminal reports whether f is a character device (a terminal).
func pcTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// pcColor reports whether stdout is a terminal that gets ANSI colors.
func pcColor(stdout io.Writer) bool {
	f, ok := stdout.(*os.File)
	return ok && pcTerminal(f) && os.Getenv("NO_COLOR") == ""
}

// pcProgress returns a stage reporter drawing a progress bar on stderr when
// it is a terminal, and nil otherwise.
func pcProgress(stderr io.Writer, total int, what string) func(string) {
	f, ok := stderr.(*os.File)
	if !ok || !pcTerminal(f) {
		return nil
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
		progressbar.OptionClearOnFinish(), progressbar.OptionShowCount())
	return func(stage string) {
		bar.Describe(what + ": " + stage)
		bar.Add(1)
	}
}

// reportJSON is the default report's JSON object.
type reportJSON struct {
	Model string `json:"model"`
	Arch  string `json:"arch"`
	// Numerics is, per path, the arithmetic it declares.
	Numerics map[string]string `json:"numerics"`
	// Backends is, per path, its backend and the backend's provenance.
	Backends map[string]parity.PathBackend `json:"backends"`
	Steps    *parity.Steps                 `json:"steps"`
	Tokens   *parity.Tokens                `json:"tokens"`
	Skipped  map[string]string             `json:"skipped"`
	Pass     bool                          `json:"pass"`
	Seconds  float64                       `json:"seconds"`
}

func runReport(args []string, stdout, stderr io.Writer) error {
	var r pcRun
	fs := newFlags("report", "[report] [MODEL] [--paths reference,dsl,llamacpp] [--numerics plain|ggml-cpu] [--prompt S] [-n N] [--perturb P:C=R] [--plot F.png] [--html F.html] [--explain] [--json]", stderr)
	pcFlags(fs, &r, true)
	fs.BoolVar(&r.explain, "explain", false, "print the verdict rules and thresholds")
	fs.BoolVar(&r.all, "all", false, "also print the drift rows (path vs global oracle)")
	fs.StringVar(&r.plot, "plot", "", "write the error heatmap (checkpoint × layer, one panel per comparison) to this PNG file")
	fs.StringVar(&r.html, "html", "", "also write the whole report as one self-contained HTML file (verdict, tables, heatmap, token parity, provenance)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := r.sampler().Validate(); err != nil {
		return usagef("%v", err)
	}
	if err := checkHTMLFile(r.html); err != nil {
		return err
	}
	start := time.Now()
	stepsGC()
	s, ps, toks, err := pcSession(&r, fs, pos, stderr, runSizes{Decode: *r.decode, Generate: *r.n, Capture: true, Distributions: true})
	if err != nil {
		return err
	}
	defer s.Close()
	prog := pcProgress(stderr, 2*len(s.Targets)+1, "report")
	steps, err := parity.RunSteps(parity.StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: toks,
		Decode: *r.decode, Perturb: ps, Progress: prog, DropCaptures: true, File: s.File})
	if err != nil {
		return err
	}
	var tokens *parity.Tokens
	if len(s.Targets) > 1 {
		hooks := pcHooks(s, ps)
		tokens, err = parity.RunTokens(parity.TokensOptions{Paths: s.Paths(), Names: s.Names(), DType: s.Targets[0].DType, Weights: &s.Model.Weights, Prompt: toks, N: *r.n, Sampler: r.sampler(),
			TieEps: r.tieEps, Hooks: hooks, Progress: prog, Setup: s.Setup()})
		if err != nil {
			return err
		}
	}
	if r.plot != "" {
		if err := parity.WritePlot(steps, r.plot); err != nil {
			return err
		}
	}
	failed := steps.Failed() || (tokens != nil && tokens.Failed())
	if r.html != "" {
		prov := [][2]string{{"model", s.Model.Path}, {"prompt tokens", fmt.Sprint(toks)}, {"decode steps", fmt.Sprint(*r.decode)},
			{"activations", r.dtype}, {"--backend (of paths named bare)", r.backend}, {"threads", fmt.Sprint(r.threads)}}
		if len(steps.Perturb) > 0 {
			prov = append(prov, [2]string{"perturbed", strings.Join(steps.Perturb, " ")})
		}
		for _, n := range slices.Sorted(maps.Keys(s.Skipped)) {
			prov = append(prov, [2]string{"skipped " + n, s.Skipped[n]})
		}
		prov = append(prov, provenance(s.Model.Path, start)...)
		page, err := parity.ReportPage(parity.ReportPageOptions{Steps: steps, Tokens: tokens, Provenance: prov})
		if err != nil {
			return err
		}
		if err := page.WriteHTMLFile(r.html); err != nil {
			return err
		}
	}
	if r.json {
		if err := writeJSON(stdout, reportJSON{Model: s.Model.Path, Arch: steps.Arch, Numerics: steps.Numerics, Backends: steps.Backends, Steps: steps, Tokens: tokens,
			Skipped: s.Skipped, Pass: !failed, Seconds: time.Since(start).Seconds()}); err != nil {
			return err
		}
	} else {
		if r.explain {
			parity.Explain(stdout)
			fmt.Fprintln(stdout)
		}
		printPeer(stdout, steps.Paths, steps.Numerics)
		printSkipped(stdout, s.Skipped)
		po := parity.PrintOptions{Color: pcColor(stdout), All: r.all}
		if err := parity.PrintSteps(stdout, steps, po); err != nil {
			return err
		}
		if tokens != nil {
			fmt.Fprintln(stdout)
			if err := parity.PrintTokens(stdout, tokens, po); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, "token parity: needs two paths, only one could be opened")
		}
		fmt.Fprintf(stdout, "\n%s in %.1f s\n", map[bool]string{true: "FAIL", false: "PASS"}[failed], time.Since(start).Seconds())
	}
	if failed {
		return pcFailure(steps, tokens)
	}
	return nil
}

// pcHooks returns each opened path's perturbation hook (nil for none).
func pcHooks(s *parity.Session, ps []parity.Perturbation) []model.Hook {
	hooks := make([]model.Hook, len(s.Targets))
	for i, t := range s.Targets {
		hooks[i] = parity.PerturbHook(t, ps)
	}
	return hooks
}

// pcFailure wraps errParity with what failed first.
func pcFailure(steps *parity.Steps, tokens *parity.Tokens) error {
	var why []string
	if steps != nil && steps.FirstFailure != nil {
		f := steps.FirstFailure
		why = append(why, fmt.Sprintf("first failing checkpoint %s (%s vs %s)", f.Checkpoint, f.A, f.B))
	}
	if tokens != nil && tokens.Failed() {
		why = append(why, fmt.Sprintf("token streams %s vs %s: %s at %d", tokens.A, tokens.B, tokens.Class, tokens.FirstDivergence))
	}
	return fmt.Errorf("%w: %s", errParity, strings.Join(why, "; "))
}
