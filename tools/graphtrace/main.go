// Command graphtrace prints every node of llama.cpp's compute graph for a
// model, with the checkpoint each is captured as: the tool for extending
// the llama.cpp names of the checkpoint graph (model.NewGraph, Node.Llama)
// to a new architecture.
//
//	go run ./tools/graphtrace -preset tiny-qwen3
//	go run ./tools/graphtrace -model testdata/stories260K.gguf -tokens 1,403 -mapped
//
// It needs the pinned llama.cpp build (linux/amd64; see README.md).
// Exit codes: 0 ok, 2 bad input or llama.cpp unavailable.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "graphtrace:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("graphtrace", flag.ContinueOnError)
	preset := fs.String("preset", "", "synth preset to trace (F32 weights, seed 7), e.g. tiny-qwen3")
	file := fs.String("model", "", "GGUF model file to trace (instead of -preset)")
	tokens := fs.String("tokens", "1,2", "comma-separated token ids of the forward call")
	mapped := fs.Bool("mapped", false, "print only the nodes captured as checkpoints")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (*preset == "") == (*file == "") {
		return errors.New("give exactly one of -preset and -model")
	}
	ids, err := parseTokens(*tokens)
	if err != nil {
		return err
	}
	path := *file
	if *preset != "" {
		dir, err := os.MkdirTemp("", "graphtrace")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, *preset+".gguf")
		if _, err := synth.WriteFile(path, synth.Options{Preset: *preset, DType: gguf.TypeF32, Seed: 7}); err != nil {
			return err
		}
	}
	m, err := model.Open(path)
	if err != nil {
		return err
	}
	defer m.Close()
	p, err := llamacpp.New(m, llamacpp.Options{PathOptions: model.PathOptions{Threads: 1, Ctx: max(16, len(ids))}})
	if err != nil {
		return err
	}
	defer p.Close()
	nodes, err := p.Trace(ids)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "tensor\top\ttype\tne\tcheckpoint")
	for _, n := range nodes {
		if *mapped && n.Checkpoint == "" {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", n.Name, n.Op, n.Type, n.Shape, n.Checkpoint)
	}
	return w.Flush()
}

func parseTokens(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("-tokens %q: %q is not a token id", s, f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}
