package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/tokenizer"
)

// DefaultPrompt is the prompt of the default report and of `steps` and
// `tokens` when none is given.
const DefaultPrompt = "Once upon a time"

// Session is an opened model with the paths under test.
type Session struct {
	// File is the model file's path, as given to Open.
	File    string
	Model   *model.Model
	Targets []Target
	// Skipped explains paths that were asked for optionally but could not
	// be opened (llamacpp not installed), by name.
	Skipped map[string]string
}

// SessionOptions configure Open.
type SessionOptions struct {
	// Paths to open, in order; the first is the reference of pair rows.
	// Each is PATH or PATH@BACKEND (model.ParsePathRef): a bare name runs
	// on PathOptions.Backend (cpu when empty), llamacpp always on ggml's
	// CPU backend. The same path may be given on two backends; the same
	// PATH@BACKEND twice is an error.
	Paths []string
	// Optional paths (as in Paths) are skipped (and noted in Skipped)
	// when they fail to open, instead of failing the session.
	Optional []string
	// PathOptions are every path's options; each path opens its own
	// backend (PathOptions.Backend replaced by its own), and an empty
	// Numerics means each backend's default (backend.DefaultNumerics).
	PathOptions model.PathOptions
	// Unfuse also opens, right after each path that can run its fused
	// kernels stage by stage (the dsl path), its unfused twin
	// (model.PathOptions.Unfuse, named with model.UnfusedSuffix).
	Unfuse bool
}

// ParsePaths resolves a list of PATH or PATH@BACKEND names with the
// default backend def (model.ParsePathRef) and refuses the same
// PATH@BACKEND given twice.
func ParsePaths(paths []string, def string) ([]model.PathRef, error) {
	var refs []model.PathRef
	for _, p := range paths {
		r, err := model.ParsePathRef(p, def)
		if err != nil {
			return nil, fmt.Errorf("parity: %w", err)
		}
		if slices.Contains(refs, r) {
			return nil, fmt.Errorf("parity: path %s given twice (the same path may run on two backends: name them PATH@BACKEND)", r)
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// Open loads the model file and opens the requested paths over it, each
// on its own backend.
func Open(file string, o SessionOptions) (*Session, error) {
	dt, err := ParseDType(o.PathOptions.ActDType)
	if err != nil {
		return nil, err
	}
	if dt == BF16 {
		return nil, fmt.Errorf("parity: paths store activations in f32 or f16, not bf16")
	}
	kv, err := ParseDType(model.KVDTypeOf(o.PathOptions))
	if err != nil || kv == BF16 {
		return nil, fmt.Errorf("parity: KV cache dtype %q: want f32 or f16", o.PathOptions.KVDType)
	}
	if len(o.Paths) == 0 {
		return nil, fmt.Errorf("parity: no paths given (linked in: %s)", strings.Join(model.PathNames(), ","))
	}
	refs, err := ParsePaths(o.Paths, o.PathOptions.Backend)
	if err != nil {
		return nil, err
	}
	optional, err := ParsePaths(o.Optional, o.PathOptions.Backend)
	if err != nil {
		return nil, err
	}
	display := model.DisplayNames(refs)
	m, err := model.Open(file)
	if err != nil {
		return nil, err
	}
	s := &Session{File: file, Model: m, Skipped: map[string]string{}}
	for i, r := range refs {
		p, err := model.OpenPathRef(r, m, o.PathOptions)
		if err != nil {
			if slices.Contains(optional, r) {
				s.Skipped[display[i]] = err.Error()
				continue
			}
			s.Close()
			return nil, fmt.Errorf("parity: path %s: %w", r, err)
		}
		s.Targets = append(s.Targets, Target{Path: p, Name: display[i], Backend: r.Backend, DType: dt, KV: kv, FlashAttn: o.PathOptions.FlashAttn})
		if o.Unfuse && r.Path == "dsl" {
			if err := s.openUnfused(r, display[i], o.PathOptions); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	if o.Unfuse && !slices.ContainsFunc(refs, func(r model.PathRef) bool { return r.Path == "dsl" }) {
		s.Close()
		return nil, fmt.Errorf("parity: unfused replay needs the dsl path (paths: %s)", strings.Join(o.Paths, ","))
	}
	if len(s.Targets) == 0 {
		s.Close()
		return nil, fmt.Errorf("parity: none of the paths %s could be opened", strings.Join(o.Paths, ","))
	}
	return s, nil
}

// Setup is how the session's paths run (SetupOf its targets).
func (s *Session) Setup() Setup { return SetupOf(s.Targets) }

// Names returns the opened paths' names in reports (Target.DisplayName).
func (s *Session) Names() []string { return names(s.Targets) }

// Paths returns the opened paths.
func (s *Session) Paths() []model.Path {
	var ps []model.Path
	for _, t := range s.Targets {
		ps = append(ps, t.Path)
	}
	return ps
}

// Close closes the paths and the model.
func (s *Session) Close() error {
	for _, t := range s.Targets {
		t.Path.Close()
	}
	s.Targets = nil
	return s.Model.Close()
}

// PromptTokens tokenizes prompt with the model's own tokenizer, with a BOS
// token when the vocabulary asks for one.
func (s *Session) PromptTokens(prompt string) ([]int32, error) {
	tk, err := tokenizer.FromGGUF(s.Model.File)
	if err != nil {
		return nil, err
	}
	ids, err := tk.Encode(prompt, tokenizer.EncodeOptions{BOS: tk.Vocab().AddBOS && tk.BOS() >= 0})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("parity: the prompt %q has no tokens", prompt)
	}
	return ids, nil
}

// ParseTokens parses "1,2,3" into ids below vocab.
func ParseTokens(s string, vocab int) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var v int64
		if _, err := fmt.Sscan(f, &v); err != nil || v < 0 || v >= int64(vocab) || fmt.Sprint(v) != f {
			return nil, fmt.Errorf("parity: token %q is not an id in [0, %d)", f, vocab)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}
