package model

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
)

// PathRef names one execution path on one backend, written PATH@BACKEND
// ("reference@cuda", "dsl@cpu"). The same path may run on two backends in
// one run; the pair (Path, Backend) is what must be unique.
type PathRef struct {
	Path    string // "reference", "dsl", "llamacpp", …
	Backend string // "cpu", "cuda", "metal", …; never empty once parsed
}

// LlamaCppBackend is the only backend of the llamacpp path: llama.cpp runs
// on ggml's own CPU backend, whatever --backend says.
const LlamaCppBackend = "cpu"

// ParsePathRef parses "PATH" or "PATH@BACKEND". A bare PATH takes
// defaultBackend ("" means "cpu"), except llamacpp, which is always on
// LlamaCppBackend (a llamacpp@BACKEND naming another backend is an error).
// Spaces around the parts are trimmed; an empty part, a second "@" or a
// "/" (goldens use it as a separator) is an error. The path and backend
// names are not looked up: OpenPath and backend.Open report unknown ones.
func ParsePathRef(s, defaultBackend string) (PathRef, error) {
	s = strings.TrimSpace(s)
	path, be, explicit := strings.Cut(s, "@")
	path, be = strings.TrimSpace(path), strings.TrimSpace(be)
	switch {
	case path == "":
		return PathRef{}, fmt.Errorf("model: path %q: empty path name (want PATH or PATH@BACKEND, e.g. reference@cuda)", s)
	case explicit && be == "":
		return PathRef{}, fmt.Errorf("model: path %q: empty backend after @ (want PATH@BACKEND, e.g. reference@cuda)", s)
	case strings.Contains(be, "@"):
		return PathRef{}, fmt.Errorf("model: path %q: more than one @ (want PATH@BACKEND)", s)
	case strings.ContainsAny(path+be, "/: ,"):
		return PathRef{}, fmt.Errorf("model: path %q: names may not contain '/', ':', ',' or spaces", s)
	}
	if !explicit {
		be = defaultBackend
		if be == "" {
			be = "cpu"
		}
		if path == "llamacpp" {
			be = LlamaCppBackend
		}
	}
	if path == "llamacpp" && be != LlamaCppBackend {
		return PathRef{}, fmt.Errorf("model: path %q: llamacpp runs on ggml's CPU backend only (llamacpp@%s); name it llamacpp or llamacpp@cpu", s, LlamaCppBackend)
	}
	return PathRef{Path: path, Backend: be}, nil
}

// String is "PATH@BACKEND".
func (r PathRef) String() string { return r.Path + "@" + r.Backend }

// Options returns o for this path: o with Backend set to r's.
func (r PathRef) Options(o PathOptions) PathOptions {
	o.Backend = r.Backend
	return o
}

// DisplayNames returns the name each of refs goes by in tables, JSON keys
// and goldens of one run: the bare path name ("reference") when every ref
// is on the same backend — every run before paths named their backend, so
// older consumers keep reading the keys they know — and the full
// "PATH@BACKEND" for every ref as soon as the run spans two backends (then
// a bare name would be ambiguous). Reports also print each path's backend
// beside it, so a bare name never hides where a path ran.
func DisplayNames(refs []PathRef) []string {
	names := make([]string, len(refs))
	mixed := false
	for _, r := range refs {
		if r.Backend != refs[0].Backend {
			mixed = true
		}
	}
	for i, r := range refs {
		names[i] = r.Path
		if mixed {
			names[i] = r.String()
		}
	}
	return names
}

// BackendPath is implemented by paths that run on a metallic backend (the
// reference and dsl paths): Backend is the backend they opened.
type BackendPath interface {
	Path
	Backend() backend.Backend
}

// BackendOf returns the name of the backend p runs on: its backend's Name
// for a BackendPath, LlamaCppBackend for any other path (llama.cpp runs
// on ggml's CPU backend).
func BackendOf(p Path) string {
	if bp, ok := p.(BackendPath); ok && bp != nil {
		if b := bp.Backend(); b != nil {
			return b.Name()
		}
	}
	return LlamaCppBackend
}

// Describer is implemented by backends (and paths) that can say in one
// line what a result computed on them depends on: the cuda backend's
// device, driver and compile options; the cpu backend's threads and CPU
// features.
type Describer interface {
	Describe() string
}

// DescribeBackend returns the provenance line of the backend p runs on:
// its Describe() when it has one, else the Engine line of an outside
// engine, else the backend's name.
func DescribeBackend(p Path) string {
	if bp, ok := p.(BackendPath); ok && bp != nil {
		if b := bp.Backend(); b != nil {
			if d, ok := b.(Describer); ok {
				return d.Describe()
			}
			return b.Name()
		}
	}
	if e := EngineOf(p); e != nil {
		return "ggml CPU backend of " + e.String()
	}
	if d, ok := p.(Describer); ok {
		return d.Describe()
	}
	return BackendOf(p)
}

// OpenPathRef opens r.Path over m on r.Backend (OpenPath with opts.Backend
// replaced by r's).
func OpenPathRef(r PathRef, m *Model, opts PathOptions) (Path, error) {
	return OpenPath(r.Path, m, r.Options(opts))
}
