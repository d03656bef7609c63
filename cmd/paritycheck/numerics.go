package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/model"
)

// numericsHelp is the --numerics flag's help.
const numericsHelp = "numerics profile of the reference and dsl paths: plain or ggml-cpu (default: ggml-cpu on the cpu backend, plain on the others; llamacpp always computes with llama.cpp's own kernels)"

// checkNumerics validates a --numerics value ("" = not given). Where the
// profile applies is the flag rule below.
func checkNumerics(value string) error {
	if value == "" {
		return nil
	}
	if _, err := backend.ParseNumerics(value); err != nil {
		return usagef("--numerics %q: want %s or %s", value, backend.Plain, backend.GGMLCPU)
	}
	return nil
}

func init() {
	// --numerics is the profile of the reference and dsl paths: it does
	// not apply when every path is llamacpp.
	registerFlagRule("numerics", flagRule{
		why: "llamacpp computes with llama.cpp's own kernels (the profile is for the reference and dsl paths)",
		applies: func(s *runScope) bool {
			return slices.ContainsFunc(s.refs(), func(r model.PathRef) bool { return r.Path != "llamacpp" })
		},
	})
	// --allow-numerics-change (golden verify) accepts a profile other than
	// the recorded one, which only --numerics asks for.
	registerFlagRule("allow-numerics-change", flagRule{
		why:     "it needs --numerics (the profile to verify under), which is not given",
		applies: func(s *runScope) bool { return s.Numerics != "" },
	})
}

// numericsOf maps each path's name to the numerics it declares.
func numericsOf(ps ...model.Path) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Name()] = p.Numerics()
	}
	return m
}

// printNumerics writes the header line naming each path's numerics.
func printNumerics(w io.Writer, ps ...model.Path) {
	var parts []string
	for _, p := range ps {
		n := p.Numerics()
		if n == model.NumericsLlamaCpp {
			n = "llama.cpp's own"
		}
		parts = append(parts, p.Name()+" "+n)
	}
	fmt.Fprintf(w, "numerics: %s\n", strings.Join(parts, ", "))
}
