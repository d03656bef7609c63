package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/synth"
)

func init() {
	register(command{
		name:    "synth",
		summary: "write a random-weight GGUF model of a real shape",
		run:     runSynth,
	})
}

const synthUsage = `synth --preset NAME --out F [--dtype T | --mix q4_k_m|q5_k_m|q3_k_m|q8_0] [--seed S] [--vocab tokenizer.json] [--json]

Writes a model with random weights (deterministic for a seed) and complete
llama.cpp metadata, for testing the execution paths on shapes and features
stories260K does not have.`

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", synthUsage, stderr)
	var presetHelp []string
	for _, name := range synth.Presets() {
		p, _ := synth.Lookup(name)
		presetHelp = append(presetHelp, fmt.Sprintf("\n  %-13s d %d, %d layers, %d/%d heads × %d, ff %d:\n  %13s %s",
			name, p.Dim, p.Layers, p.Heads, p.KVHeads, p.HeadDim, p.FF, "", p.Description))
	}
	var dtypes []string
	for _, t := range synth.DTypes() {
		dtypes = append(dtypes, strings.ToLower(t.String()))
	}
	preset := fs.String("preset", "", "model shape (required):"+strings.Join(presetHelp, ""))
	out := fs.String("out", "", "GGUF file to write (required)")
	dtype := fs.String("dtype", "f32", "matrix type: "+strings.Join(dtypes, ", ")+"; norms and biases stay f32")
	mixName := fs.String("mix", "", "llama.cpp quantization preset instead of one --dtype: "+strings.Join(synth.Mixes(), ", ")+
		"\n(each matrix gets the type llama-quantize gives it, with its fallbacks for rows not a multiple of 256)")
	seed := fs.Uint64("seed", 0, "random seed; the same seed writes the same bytes")
	vocab := fs.String("vocab", "", "Qwen presets: take the vocabulary from this Hugging Face tokenizer.json\n(default: the embedded Qwen sub-vocabulary)")
	asJSON := fs.Bool("json", false, "print one JSON object describing the model written")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("synth takes no positional arguments, got %q", pos)
	}
	if *preset == "" {
		return usagef("synth needs --preset NAME (one of %s)", strings.Join(synth.Presets(), ", "))
	}
	if _, err := synth.Lookup(*preset); err != nil {
		return usagef("%v", err)
	}
	if *out == "" {
		return usagef("synth needs --out F")
	}
	t, err := gguf.ParseType(*dtype)
	if err != nil {
		return usagef("--dtype %q: want one of %s", *dtype, strings.Join(dtypes, ", "))
	}
	if *mixName != "" {
		dtypeSet := false
		fs.Visit(func(f *flag.Flag) { dtypeSet = dtypeSet || f.Name == "dtype" })
		if dtypeSet {
			return usagef("--mix and --dtype both choose the matrix types: give one")
		}
		if !slices.Contains(synth.Mixes(), *mixName) {
			return usagef("--mix %q: want one of %s", *mixName, strings.Join(synth.Mixes(), ", "))
		}
	}
	start := time.Now()
	info, err := synth.WriteFile(*out, synth.Options{Preset: *preset, DType: t, Mix: *mixName, Seed: *seed, VocabFile: *vocab})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if *asJSON {
		return writeJSON(stdout, struct {
			Out     string  `json:"out"`
			Seconds float64 `json:"seconds"`
			*synth.Info
		}{*out, secs, info})
	}
	p := info.Preset
	fmt.Fprintf(stdout, "wrote %s (%.1f MB in %.1f s)\n", *out, float64(info.Bytes)/1e6, secs)
	fmt.Fprintf(stdout, "  %s: %s, d %d, %d layers, %d/%d heads, head_dim %d, ff %d, vocab %d, tied %v\n",
		p.Name, p.Arch, p.Dim, p.Layers, p.Heads, p.KVHeads, p.HeadDim, p.FF, info.Vocab, p.Tied)
	if info.Mix != "" {
		var parts []string
		for _, typ := range slices.Sorted(maps.Keys(info.Types)) {
			parts = append(parts, fmt.Sprintf("%d %s", info.Types[typ], typ))
		}
		fmt.Fprintf(stdout, "  mix %s: %s matrices; %d tensors, %.2fM parameters, seed %d\n", info.Mix, strings.Join(parts, ", "), info.Tensors, float64(info.Params)/1e6, info.Seed)
		return nil
	}
	fmt.Fprintf(stdout, "  %s matrices, %d tensors, %.2fM parameters, seed %d\n", info.DType, info.Tensors, float64(info.Params)/1e6, info.Seed)
	if len(info.Fallbacks) > 0 {
		fmt.Fprintf(stdout, "  %d tensors stored in another type (row length not a multiple of the %s block)\n", len(info.Fallbacks), info.DType)
	}
	return nil
}
