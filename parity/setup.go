package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// Setup is how a report's paths ran beyond their names and activation
// storage: the KV cache's storage, whether attention was ggml's flash
// kernel, what llama.cpp ran with when it is one of the paths (nil
// otherwise), and on which backend each path ran. Reports embed it, so
// every JSON object has the keys "kv", "flash_attn", "llamacpp" and
// "backends", and every table header prints it.
type Setup struct {
	KV        DType         `json:"kv"`
	FlashAttn bool          `json:"flash_attn"`
	LlamaCpp  *model.Engine `json:"llamacpp"`
	// Backends is, per path (by its name in the report), the backend it
	// ran on and that backend's provenance line.
	Backends map[string]PathBackend `json:"backends"`
	// order lists the Backends keys in the paths' order (for headers).
	order []string
}

// PathBackend is where one path of a report ran.
type PathBackend struct {
	Backend string `json:"backend"` // "cpu", "cuda", …
	// Provenance is the backend's line: the cuda backend's device, driver,
	// NVRTC and compile options (cuda.Provenance.String); the cpu
	// backend's threads and CPU features; llama.cpp's build.
	Provenance string `json:"provenance"`
}

// SetupOf returns the setup of targets (the first one's KV storage and
// attention kernel; the options of a session are shared by its paths).
func SetupOf(targets []Target) Setup {
	var s Setup
	var paths []model.Path
	for _, t := range targets {
		paths = append(paths, t.Path)
	}
	if len(targets) > 0 {
		s.KV, s.FlashAttn = targets[0].kv(), targets[0].FlashAttn
	}
	s.LlamaCpp = model.EngineOf(paths...)
	s.Backends = map[string]PathBackend{}
	for _, t := range targets {
		s.addBackend(t.name(), t.backend(), model.DescribeBackend(t.Path))
	}
	return s
}

// backendsOf is the Backends part of SetupOf for paths named names.
func backendsOf(paths []model.Path, names []string) Setup {
	var s Setup
	s.Backends = map[string]PathBackend{}
	for i, p := range paths {
		s.addBackend(names[i], model.BackendOf(p), model.DescribeBackend(p))
	}
	return s
}

func (s *Setup) addBackend(name, backend, prov string) {
	if s.Backends == nil {
		s.Backends = map[string]PathBackend{}
	}
	if _, dup := s.Backends[name]; !dup {
		s.order = append(s.order, name)
	}
	s.Backends[name] = PathBackend{Backend: backend, Provenance: prov}
}

// Lines are the header lines: "attention: KV cache f16, flash attention
// on; llama.cpp …" (llama.cpp's part only when it ran), then one line per
// path naming its backend and the backend's provenance.
func (s Setup) Lines() []string {
	fa := "off"
	if s.FlashAttn {
		fa = "on"
	}
	kv := s.KV
	if kv == "" {
		kv = F32
	}
	line := fmt.Sprintf("attention: KV cache %s, flash attention %s", kv, fa)
	if s.LlamaCpp != nil {
		line += "; " + s.LlamaCpp.String()
	}
	lines := []string{line}
	order := s.order
	if len(order) != len(s.Backends) { // a Setup built elsewhere (decoded JSON)
		order = nil
		for n := range s.Backends {
			order = append(order, n)
		}
		slices.Sort(order)
	}
	for _, n := range order {
		b := s.Backends[n]
		lines = append(lines, fmt.Sprintf("backend of %s: %s", n, b.Provenance))
	}
	return lines
}

// Header is Lines joined by newlines.
func (s Setup) Header() string { return strings.Join(s.Lines(), "\n") }
