package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/internal/embedded"
	"github.com/metallic-go/metallic/llamacpp"
)

// errHelpShown is returned when --help was asked for (exit 0).
var errHelpShown = errors.New("help shown")

// errParsedOnly is returned by parseFlags, once the flags parsed, when
// parseOnly is set: the docs test checks every command line of the docs
// against the real flag sets without running anything.
var errParsedOnly = errors.New("flags parsed (parse-only mode)")

// parseOnly makes parseFlags stop every command after parsing (tests only;
// never set by the CLI).
var parseOnly bool

// newFlags returns a FlagSet for a command that prints its usage to stderr
// and reports errors as usage errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: paritycheck %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs, allowing flags and positional arguments to
// be interleaved ("inspect MODEL --json" and "inspect --json MODEL" both
// work). It returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelpShown
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if parseOnly {
		return nil, errParsedOnly
	}
	return pos, nil
}

// modelPath returns the model file named on the command line, or the
// embedded stories260K when none was given.
func modelPath(arg string) (string, error) {
	if arg != "" {
		return arg, nil
	}
	return embedded.Path()
}

// modelArg returns the MODEL positional argument of cmd, or "" (the
// embedded model) when none was given; more than one is a usage error.
func modelArg(cmd string, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", nil
	case 1:
		return pos[0], nil
	}
	return "", usagef("%s takes at most one MODEL, got %q", cmd, pos)
}

// writeJSON writes v as one indented JSON object followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPeer names the libggml-cpu build llama.cpp runs on when llamacpp is
// among paths (their names in the report: "llamacpp", or "llamacpp@cpu"
// when the run spans two backends): under the ggml-cpu profile the
// reference reproduces the arithmetic of the AVX-512 builds bit for bit,
// and differs from the others in the last bits, which is the first thing
// to know when reference and llamacpp disagree. numerics are the paths'
// declared profiles, by name.
func printPeer(w io.Writer, paths []string, numerics map[string]string) {
	bare := func(n string) string { p, _, _ := strings.Cut(n, "@"); return p }
	if !slices.ContainsFunc(paths, func(n string) bool { return bare(n) == "llamacpp" }) {
		return
	}
	v, err := llamacpp.CPUVariant()
	if err != nil {
		return
	}
	for _, n := range paths {
		if bare(n) == "reference" && numerics[n] != "ggml-cpu" {
			who := n
			if n == "reference" {
				who = "the reference"
			}
			fmt.Fprintf(w, "llama.cpp CPU backend: libggml-cpu-%s (%s runs the %s numerics profile: it does not reproduce llama.cpp's arithmetic, expect differences)\n", v, who, numerics[n])
			return
		}
	}
	if llamacpp.AVX512Variant(v) {
		fmt.Fprintf(w, "llama.cpp CPU backend: libggml-cpu-%s (AVX-512: the reference path reproduces its arithmetic bit for bit)\n", v)
	} else {
		fmt.Fprintf(w, "llama.cpp CPU backend: libggml-cpu-%s (not AVX-512: the reference path sums in another order, expect last-bit differences)\n", v)
	}
}
