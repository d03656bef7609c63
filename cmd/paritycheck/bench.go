package main

import (
	"fmt"
	"io"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/profile"
	"github.com/metallic-go/metallic/sample"
)

func init() {
	register(command{
		name:    "bench",
		summary: "measure prefill and decode speed of one path (tok/s, peak RSS)",
		run:     runBench,
	})
}

const benchUsage = `bench [MODEL] [--path P[@B]] [--backend B] [--numerics plain|ggml-cpu] [--prompt-len N] [-n N] [--reps R] [--profile]
       [--ctx N] [--act f32|f16] [--kv f32|f16] [--flash-attn on|off] [--threads N] [--spec F] [--json]`

type benchOutput struct {
	Path        string    `json:"path"`
	Backend     string    `json:"backend"`
	Provenance  string    `json:"provenance"` // the backend's line (model.DescribeBackend)
	Act         string    `json:"act"`
	Numerics    string    `json:"numerics"` // what the path declares: plain, ggml-cpu or llamacpp
	PromptLen   int       `json:"prompt_len"`
	N           int       `json:"n"`
	Reps        int       `json:"reps"`
	PrefillTokS float64   `json:"prefill_tok_s"` // best of reps
	DecodeTokS  float64   `json:"decode_tok_s"`  // best of reps
	PrefillRuns []float64 `json:"prefill_runs_tok_s"`
	DecodeRuns  []float64 `json:"decode_runs_tok_s"`
	PeakRSSMB   float64   `json:"peak_rss_mb"`
	attnJSON
	// Profile is --profile's per-kernel decode profile (profile.Report),
	// absent without it.
	Profile *profile.Report `json:"profile,omitempty"`
}

func init() {
	registerFlagRule("profile", flagRule{
		why:     "llamacpp runs llama.cpp's own kernels, which metallic's backends do not see",
		applies: func(s *runScope) bool { return !s.has("llamacpp") },
	})
}

// runBench prefills a fixed synthetic prompt (token ids 1+i·7 mod vocab, so
// every run and every path sees the same input) and decodes n tokens
// greedily, ignoring end-of-sequence; it reports the best of --reps runs.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchUsage, stderr)
	run := genAddRunFlags(fs)
	promptLen := countVar(fs, "prompt-len", 32, 1, "prompt length in tokens (`N`)")
	n := countVar(fs, "n", 32, 1, "`N` tokens to decode; the prompt and them must fit the context (--ctx)")
	reps := countVar(fs, "reps", 3, 1, "`R` repetitions; the best is reported")
	prof := fs.Bool("profile", false, "then profile n decode tokens kernel by kernel: time per token (CUDA events on cuda, wall time per dispatch on cpu), sorted, with the bytes each moves and the bandwidth achieved")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("bench", pos)
	if err != nil {
		return err
	}
	scope, err := run.scope()
	if err != nil {
		return err
	}
	if err := checkScope(fs, scope); err != nil {
		return err
	}
	m, err := run.openModel(arg)
	if err != nil {
		return err
	}
	defer m.Close()
	gen := *n
	if *prof {
		gen++ // the profiled run decodes n tokens after the whole prompt
	}
	p, err := run.openPath(m, runSizes{Prompt: *promptLen, Generate: gen})
	if err != nil {
		return err
	}
	defer p.Close()
	prompt := make([]int32, *promptLen)
	for i := range prompt {
		prompt[i] = int32((1 + 7*i) % m.Config.Vocab)
	}
	out := benchOutput{Path: p.Name(), Backend: run.ref.Backend, Provenance: model.DescribeBackend(p), Act: run.act, Numerics: p.Numerics(), PromptLen: *promptLen, N: *n, Reps: *reps,
		attnJSON: attnOf(p, run.opts)}
	for r := 0; r < *reps; r++ {
		res, err := model.Generate(p, prompt, model.GenerateOptions{MaxTokens: *n, Sampler: sample.Options{}})
		if err != nil {
			return err
		}
		pf, dc := res.PrefillTokPerSec(), res.DecodeTokPerSec()
		out.PrefillRuns = append(out.PrefillRuns, pf)
		out.DecodeRuns = append(out.DecodeRuns, dc)
		out.PrefillTokS = max(out.PrefillTokS, pf)
		out.DecodeTokS = max(out.DecodeTokS, dc)
		if !run.json {
			fmt.Fprintf(stderr, "run %d/%d: prefill %.1f tok/s, decode %.1f tok/s\n", r+1, *reps, pf, dc)
		}
	}
	if *prof {
		p.Close() // one path at a time: the profiled run opens its own
		out.Profile, err = profile.Run(profile.Options{Model: m, Path: run.ref, PathOptions: run.opts, Prompt: prompt, N: *n})
		if err != nil {
			return err
		}
	}
	out.PeakRSSMB = peakRSSMB()
	if run.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%s on %s (%s, numerics %s, KV %s, flash attention %v): prompt %d, decode %d, best of %d\n", out.Path, out.Backend, out.Act,
		out.Numerics, out.KV, out.FlashAttn, *promptLen, *n, *reps)
	if out.LlamaCpp != nil {
		fmt.Fprintln(stdout, out.LlamaCpp)
	}
	fmt.Fprintf(stdout, "backend: %s\n", out.Provenance)
	fmt.Fprintf(stdout, "prefill %.1f tok/s\ndecode  %.1f tok/s\npeak RSS %.1f MB\n", out.PrefillTokS, out.DecodeTokS, out.PeakRSSMB)
	if out.Profile != nil {
		fmt.Fprintln(stdout)
		if err := profile.Print(stdout, out.Profile); err != nil {
			return err
		}
		if out.DecodeTokS > 0 {
			fmt.Fprintf(stdout, "unprofiled decode: %.4f ms/token (best of %d runs above)\n", 1e3/out.DecodeTokS, *reps)
		}
	}
	return nil
}
