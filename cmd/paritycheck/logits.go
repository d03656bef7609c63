package main

import (
	"fmt"
	"io"
	"math"

	"github.com/metallic-go/metallic/model"
)

func init() {
	register(command{
		name:    "logits",
		summary: "print the logits of one path for given tokens (one row per position)",
		run:     runLogits,
	})
}

const logitsUsage = `logits [MODEL] --tokens 1,2,3 [--path P] [--backend B] [--numerics plain|ggml-cpu] [--ctx N] [--act f32|f16] [--kv f32|f16] [--flash-attn on|off]
       [--threads N] [--spec F] [--json]`

type logitsOutput struct {
	Tokens  []int32     `json:"tokens"`
	Logits  [][]float32 `json:"logits"`
	Path    string      `json:"path"`
	Backend string      `json:"backend"`
	// Provenance is the backend's line (model.DescribeBackend).
	Provenance string `json:"provenance"`
	Numerics   string `json:"numerics"` // what the path declares: plain, ggml-cpu or llamacpp
	attnJSON
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logits", logitsUsage, stderr)
	run := genAddRunFlags(fs)
	var tokens tokensValue
	fs.Var(&tokens, "tokens", "token `ids`, comma-separated (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	arg, err := modelArg("logits", pos)
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
	ids := tokens.ids
	if ids == nil {
		return usagef("logits needs --tokens")
	}
	m, err := run.openModel(arg)
	if err != nil {
		return err
	}
	defer m.Close()
	V := m.Config.Vocab
	if err := checkVocab(ids, V); err != nil {
		return err
	}
	p, err := run.openPath(m, runSizes{Prompt: len(ids)})
	if err != nil {
		return err
	}
	defer p.Close()
	flat, err := p.Forward(ids, 0)
	if err != nil {
		return err
	}
	if len(flat) != len(ids)*V {
		return fmt.Errorf("path %s returned %d logits for %d positions × vocab %d", p.Name(), len(flat), len(ids), V)
	}
	rows := make([][]float32, len(ids))
	for i := range rows {
		rows[i] = flat[i*V : (i+1)*V]
		for _, v := range rows[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("path %s produced a non-finite logit at position %d", p.Name(), i)
			}
		}
	}
	if run.json {
		return writeJSON(stdout, logitsOutput{Tokens: ids, Logits: rows, Path: p.Name(), Backend: run.ref.Backend, Provenance: model.DescribeBackend(p), Numerics: p.Numerics(), attnJSON: attnOf(p, run.opts)})
	}
	if e := model.EngineOf(p); e != nil {
		fmt.Fprintln(stdout, e)
	}
	printNumerics(stdout, p)
	fmt.Fprintf(stdout, "backend: %s\n", model.DescribeBackend(p))
	for i, row := range rows {
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		fmt.Fprintf(stdout, "pos %d token %d: argmax %d (%.4f)", i, ids[i], best, row[best])
		for j := 0; j < min(8, V); j++ {
			fmt.Fprintf(stdout, " %.4f", row[j])
		}
		fmt.Fprintln(stdout, " …")
	}
	return nil
}
