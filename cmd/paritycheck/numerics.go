package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/model"
)

// numericsHelp is the --numerics flag's help.
const numericsHelp = "numerics profile of the reference and dsl paths: plain or ggml-cpu (default: ggml-cpu on the cpu backend, plain on the others; llamacpp always computes with llama.cpp's own kernels)"

// checkNumerics validates a --numerics value against the paths it would
// apply to: an unknown profile, or a profile given when every path is
// llamacpp (which it does not apply to), is a usage error.
func checkNumerics(value string, paths []string) error {
	if value == "" {
		return nil
	}
	if _, err := backend.ParseNumerics(value); err != nil {
		return usagef("--numerics %q: want %s or %s", value, backend.Plain, backend.GGMLCPU)
	}
	for _, p := range paths {
		if p != "llamacpp" {
			return nil
		}
	}
	return usagef("--numerics %s does not apply to %s: llamacpp computes with llama.cpp's own kernels (the profile is for the reference and dsl paths)",
		value, strings.Join(paths, ","))
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
