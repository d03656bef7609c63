package backendtest

import (
	"fmt"
	"slices"

	"github.com/metallic-go/metallic/backend"
)

// Restrict presents b under another name as a backend that implements
// only the given profiles: Numerics lists them, and Load refuses a
// built-in op under any other profile with an error naming it (composed
// kernels, which carry their own arithmetic, pass through). It stands in
// tests for a backend that lacks a profile (a GPU backend lacks ggml-cpu)
// without needing one.
func Restrict(b backend.Backend, name string, profiles ...backend.Numerics) backend.Backend {
	return &restricted{Backend: b, name: name, profiles: profiles}
}

type restricted struct {
	backend.Backend
	name     string
	profiles []backend.Numerics
}

func (r *restricted) Name() string                 { return r.name }
func (r *restricted) Numerics() []backend.Numerics { return r.profiles }

func (r *restricted) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	builtin := spec.CPU == nil && spec.MSL == "" && spec.CUDA == ""
	p := spec.Numerics
	if p == "" {
		p = backend.Plain
	}
	if builtin && !slices.Contains(r.profiles, p) {
		return nil, fmt.Errorf("%s: %s: the %s numerics profile is not implemented (have %v)", r.name, spec.Name, p, r.profiles)
	}
	return r.Backend.Load(spec)
}
