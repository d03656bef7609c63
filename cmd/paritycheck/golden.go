package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"

	_ "github.com/metallic-go/metallic/dsl" // registers the "dsl" path
	"github.com/metallic-go/metallic/golden"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	_ "github.com/metallic-go/metallic/reference" // registers the "reference" path
	"github.com/metallic-go/metallic/sample"
	"github.com/metallic-go/metallic/tokenizer"
)

func init() {
	register(command{
		name:    "golden",
		summary: "record a golden run to a file, or verify the code against one",
		run:     runGolden,
	})
}

const goldenUsage = `golden record [MODEL] --out F [--paths P] [--numerics plain|ggml-cpu] [--checkpoints GLOB,…] [--prompt S | --tokens 1,2] [-n N] [sampler flags] [--f16] [--json]
       paritycheck golden verify F [--model M] [--numerics plain|ggml-cpu --allow-numerics-change] [--junit F] [--perturb P:C=R] [--json]`

func runGolden(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("golden needs a subcommand: record or verify\nUsage: paritycheck %s", goldenUsage)
	}
	switch args[0] {
	case "record":
		return goldenRecord(args[1:], stdout, stderr)
	case "verify":
		return goldenVerify(args[1:], stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprintf(stderr, "Usage: paritycheck %s\n\nRun \"paritycheck golden record --help\" or \"… verify --help\" for the flags.\n", goldenUsage)
		return errHelpShown
	}
	return usagef("golden: unknown subcommand %q (want record or verify)", args[0])
}

// goldenList collects a repeatable flag.
type goldenList []string

func (l *goldenList) String() string     { return strings.Join(*l, ",") }
func (l *goldenList) Set(s string) error { *l = append(*l, s); return nil }

func goldenRecord(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("golden record", "golden record [MODEL] --out F [flags]", stderr)
	out := fs.String("out", "", "golden file to write (required)")
	paths := fs.String("paths", "reference", "comma-separated paths to record, PATH or PATH@BACKEND (a bare name runs on --backend)")
	checks := fs.String("checkpoints", "", "comma-separated globs of checkpoints to keep, e.g. 'blk.*.ffn_*' (default all; logits always)")
	prompt := fs.String("prompt", "", "prompt text (tokenized with the model's vocabulary, BOS as the vocabulary asks)")
	var tokens tokensValue
	fs.Var(&tokens, "tokens", "prompt token `ids`, comma-separated (instead of --prompt)")
	n := countVar(fs, "n", 16, 0, "`N` tokens to generate; the prompt and them must fit the model's context")
	backend := fs.String("backend", "cpu", "backend of the paths named without one: cpu, metal, cuda")
	numerics := fs.String("numerics", "", numericsHelp)
	act := fs.String("act", "f32", "activation and KV-cache storage: f32 or f16 (f16 implies f16 golden storage)")
	threads := new(int)
	threadsVar(fs, threads, 0, "")
	f16 := fs.Bool("f16", false, "store checkpoints and logits as f16 (half the size)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	sampler := goldenSamplerFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("golden record", pos)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("golden record needs --out F")
	}
	if *act != "f32" && *act != "f16" {
		return usagef("--act %q: want f32 or f16", *act)
	}
	so := sampler.options()
	if err := so.Validate(); err != nil {
		return usagef("%v", err)
	}
	recorded := goldenSplit(*paths)
	if len(recorded) == 0 {
		recorded = []string{"reference"}
	}
	if err := checkNumerics(*numerics); err != nil {
		return err
	}
	if _, err := parity.ParsePaths(recorded, *backend); err != nil {
		return usagef("--paths %s: %v", *paths, err)
	}
	if err := checkScope(fs, runScope{Paths: recorded, Backend: *backend, Numerics: *numerics, Generates: *n > 0, Greedy: so.Greedy(),
		Penalty: penaltyOn(so.RepeatPenalty), JSON: *asJSON}); err != nil {
		return err
	}
	mp, err := modelPath(arg)
	if err != nil {
		return err
	}
	m, err := model.Open(mp)
	if err != nil {
		return err
	}
	defer m.Close()
	ids, text, err := goldenPrompt(m, *prompt, tokens.ids)
	if err != nil {
		return err
	}
	popts := model.PathOptions{Backend: *backend, ActDType: *act, Threads: *threads, Numerics: *numerics}
	if err := checkSizes(&m.Config, runSizes{Opts: popts, Paths: 1, Prompt: len(ids), Generate: *n}); err != nil {
		return err
	}
	g, err := golden.Record(golden.RecordOptions{
		Model:       mp,
		Paths:       recorded,
		PathOptions: popts,
		Checkpoints: goldenSplit(*checks),
		Prompt:      ids,
		PromptText:  text,
		N:           *n,
		Sampler:     so,
		F16:         *f16,
		Progress:    pcProgress(stderr, len(recorded)*(1+*n), "golden record"),
	})
	if err != nil {
		return err
	}
	if err := g.WriteFile(*out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	tensors, streams := 0, map[string][]int32{}
	for _, r := range g.Runs {
		tensors += len(r.Checkpoints)
		streams[r.Path] = r.Tokens
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{
			"out": *out, "bytes": st.Size(), "model_sha256": g.Meta.ModelSHA256, "paths": g.Meta.Paths,
			"checkpoints": tensors, "prompt_tokens": g.Meta.PromptTokens, "streams": streams,
			"storage": g.Meta.Storage, "policy": g.Meta.Policy.String(), "numerics": g.Meta.Numerics, "backends": g.Backends,
		})
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes, %d checkpoints of %d positions, %d generated tokens per path, %s storage, numerics %s\n",
		*out, st.Size(), tensors, len(ids), *n, g.Meta.Storage, g.Meta.Numerics)
	fmt.Fprintf(stdout, "model %s sha256 %s\n", filepath.Base(mp), g.Meta.ModelSHA256)
	for _, r := range g.Runs {
		fmt.Fprintf(stdout, "%s tokens: %v\n", r.Path, r.Tokens)
	}
	for _, n := range slices.Sorted(maps.Keys(g.Backends)) {
		fmt.Fprintf(stdout, "backend of %s: %s\n", n, g.Backends[n].Provenance)
	}
	return nil
}

func goldenVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("golden verify", "golden verify F [--model M] [--numerics plain|ggml-cpu --allow-numerics-change] [--junit F] [--html F.html] [--perturb P:C=R] [--json]", stderr)
	modelArg := fs.String("model", "", "model file (default the embedded stories260K); its SHA-256 must match the golden's")
	junit := fs.String("junit", "", "write JUnit XML to this file")
	htmlFile := fs.String("html", "", "write the verification as one self-contained HTML file (verdict, tables, provenance)")
	backend := fs.String("backend", "", "run every recorded path but llamacpp on this backend instead of its recorded one (cpu, metal, cuda)")
	threads := new(int)
	threadsVar(fs, threads, 0, "")
	numerics := fs.String("numerics", "", "run the paths under this numerics profile instead of the recorded one (plain or ggml-cpu); another profile than the recorded one is refused without --allow-numerics-change")
	allowChange := fs.Bool("allow-numerics-change", false, "compare with a golden recorded under another numerics profile than --numerics (the differences are then the profiles', not regressions)")
	var perturbs goldenList
	fs.Var(&perturbs, "perturb", "multiply PATH's CHECKPOINT by (1 + R·u) as it is produced, u uniform in [-1,1] (repeatable), e.g. reference:blk.2.ffn_act=1e-2")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("golden verify takes one golden file, got %d arguments", len(pos))
	}
	if err := checkHTMLFile(*htmlFile); err != nil {
		return err
	}
	start := time.Now()
	var ps []parity.Perturbation
	for _, s := range perturbs {
		p, err := parity.ParsePerturb(s)
		if err != nil {
			return usagef("%v", err)
		}
		ps = append(ps, p)
	}
	if err := checkNumerics(*numerics); err != nil {
		return err
	}
	g, err := golden.Open(pos[0])
	if err != nil {
		return err
	}
	refs, err := g.Meta.Refs()
	if err != nil {
		return err
	}
	var running []string // where the recorded paths run now
	for _, r := range refs {
		if *backend != "" && r.Path != "llamacpp" {
			r.Backend = *backend
		}
		running = append(running, r.String())
	}
	if err := checkScope(fs, runScope{Paths: running, Backend: *backend, Numerics: *numerics, Perturbs: len(ps) > 0, JSON: *asJSON, BackendOverrides: true}); err != nil {
		return err
	}
	mp, err := modelPath(*modelArg)
	if err != nil {
		return err
	}
	rep, err := golden.Verify(g, golden.VerifyOptions{
		Model: mp, Backend: *backend, Threads: *threads, Perturbations: ps,
		Numerics: *numerics, AllowNumericsChange: *allowChange,
		Progress: pcProgress(stderr, len(g.Runs)*(1+g.Meta.NGenerated), "golden verify"),
	})
	if err != nil {
		return err
	}
	if *junit != "" {
		f, err := os.Create(*junit)
		if err != nil {
			return err
		}
		werr := golden.WriteJUnit(f, rep, filepath.Base(pos[0]))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", *junit, werr)
		}
	}
	if *htmlFile != "" {
		page := golden.Page(g, pos[0], rep, append([][2]string{{"model (verified)", mp}}, provenance(mp, start)...))
		if err := page.WriteHTMLFile(*htmlFile); err != nil {
			return err
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, map[string]any{
			"golden": pos[0], "model": mp, "model_sha256": rep.ModelSHA256, "policy": rep.Policy,
			"rows": rep.Rows, "streams": rep.Streams, "pass": rep.Pass, "first_failure": rep.FirstFailure,
			"numerics": rep.Numerics, "recorded_numerics": rep.RecordedNumerics, "backends": rep.Backends,
		}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "golden %s: paths %s, numerics %s", pos[0], strings.Join(g.Meta.Paths, ","), rep.Numerics)
		if rep.Numerics != rep.RecordedNumerics {
			fmt.Fprintf(stdout, " (recorded under %s: --allow-numerics-change)", rep.RecordedNumerics)
		}
		fmt.Fprintln(stdout)
		for _, n := range slices.Sorted(maps.Keys(rep.Backends)) {
			fmt.Fprintf(stdout, "backend of %s: %s\n", n, rep.Backends[n].Provenance)
		}
		if err := printGoldenTable(stdout, rep); err != nil {
			return err
		}
	}
	if !rep.Pass {
		f := rep.FirstFailure
		msg := fmt.Sprintf("%s: regression: %s checkpoint %s (layer %d) moved first: %s", pos[0], f.Path, f.Checkpoint, f.Layer, f.Verdict)
		if f.Note != "" {
			msg += ": " + f.Note
		}
		return fmt.Errorf("%w: %s", errParity, msg)
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "golden %s: all %d rows pass (policy %s)\n", pos[0], len(rep.Rows), g.Meta.Policy.Name)
	}
	return nil
}

func printGoldenTable(w io.Writer, rep *golden.Report) error {
	t := tablewriter.NewWriter(w)
	t.Header("path", "checkpoint", "layer", "max_abs", "rmse", "nmse", "cos", "max_ulp", "nmse_limit", "verdict")
	for _, r := range rep.Rows {
		v := r.Verdict
		if r.Note != "" && r.Failed() {
			v += ": " + r.Note
		}
		cells := []any{r.Path, r.Checkpoint, strconv.Itoa(r.Layer), goldenG3(r.MaxAbs), goldenG3(r.RMSE), goldenG3(r.NMSE),
			fmt.Sprintf("%.9f", float64(r.Cos)), strconv.FormatInt(r.MaxULP, 10), goldenG3(r.Limit), v}
		if r.Checkpoint == "tokens" || r.Verdict == golden.Missing || r.Verdict == golden.Shape {
			for i := 3; i < 9; i++ {
				cells[i] = "-"
			}
		}
		if err := t.Append(cells...); err != nil {
			return err
		}
	}
	return t.Render()
}

func goldenG3(n parity.Num) string { return strconv.FormatFloat(float64(n), 'g', 3, 64) }

// goldenSampler holds the sampler flags until they are parsed.
type goldenSampler struct {
	temp, topP, minP, penalty float64
	topK, lastN               int
	seed                      uint64
}

// goldenSamplerFlags registers the sampler flags (the names generate uses).
func goldenSamplerFlags(fs *flag.FlagSet) *goldenSampler {
	s := &goldenSampler{}
	fs.Float64Var(&s.temp, "temp", 0, "sampling temperature (0 = greedy)")
	fs.IntVar(&s.topK, "top-k", 0, "top-k (0 = off)")
	fs.Float64Var(&s.topP, "top-p", 0, "top-p (0 or 1 = off)")
	fs.Float64Var(&s.minP, "min-p", 0, "min-p (0 = off)")
	fs.Float64Var(&s.penalty, "repeat-penalty", 0, "repetition penalty (0 or 1 = off)")
	fs.IntVar(&s.lastN, "repeat-last-n", 0, "repetition penalty window (0 = 64, -1 = all)")
	fs.Uint64Var(&s.seed, "seed", 0, "sampler seed")
	return s
}

func (s *goldenSampler) options() sample.Options {
	return sample.Options{
		Temperature: float32(s.temp), TopK: s.topK, TopP: float32(s.topP), MinP: float32(s.minP),
		RepeatPenalty: float32(s.penalty), RepeatLastN: s.lastN, Seed: s.seed,
	}
}

// goldenSplit splits a comma-separated list, dropping empty items.
func goldenSplit(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// goldenPrompt returns the prompt tokens from --tokens, or --prompt text
// tokenized with the model's vocabulary (BOS when the vocabulary asks for
// it). With neither, the prompt is "Once upon a time".
func goldenPrompt(m *model.Model, text string, ids []int32) ([]int32, string, error) {
	if ids != nil {
		return ids, "", checkVocab(ids, m.Config.Vocab)
	}
	if text == "" {
		text = "Once upon a time"
	}
	tok, err := tokenizer.FromGGUF(m.File)
	if err != nil {
		return nil, "", err
	}
	out, err := tok.Encode(text, tokenizer.EncodeOptions{BOS: tok.Vocab().AddBOS})
	if err != nil {
		return nil, "", err
	}
	if len(out) == 0 {
		return nil, "", usagef("--prompt %q gives no tokens", text)
	}
	return out, text, nil
}
