package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// Target is one path under test with the storage dtype its verdicts use.
type Target struct {
	Path model.Path
	// Name is the path's name in this run's rows, streams, JSON keys and
	// headers (model.DisplayNames: "reference", or "reference@cuda" when
	// the run spans two backends); empty means Path.Name().
	Name string
	// Backend is the backend the path runs on; empty means
	// model.BackendOf(Path).
	Backend string
	DType   DType
	// KV is the path's KV-cache storage ("" means DType): the local oracle
	// rounds attention's k and v to it, and attention is judged at the
	// coarser of the two dtypes.
	KV DType
	// FlashAttn says the path runs ggml's flash attention (reported).
	FlashAttn bool
}

// name is the target's display name.
func (t Target) name() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Path.Name()
}

// backend is the name of the target's backend.
func (t Target) backend() string {
	if t.Backend != "" {
		return t.Backend
	}
	return model.BackendOf(t.Path)
}

// Ref is the target's path and backend.
func (t Target) Ref() model.PathRef { return model.PathRef{Path: t.Path.Name(), Backend: t.backend()} }

// DisplayName is the target's name in reports (Name, else the path's).
func (t Target) DisplayName() string { return t.name() }

// names returns the display names of targets.
func names(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.name()
	}
	return out
}

// Matches reports whether a --perturb path names the target: its display
// name or its full PATH@BACKEND.
func (t Target) Matches(path string) bool {
	return path == t.name() || path == t.Ref().String()
}

// kv is the target's KV-cache storage.
func (t Target) kv() DType {
	if t.KV == "" {
		return t.DType
	}
	return t.KV
}

// Trace is one path's run over a token sequence: prefill of the prompt,
// then one forward call per decode step, every checkpoint captured.
type Trace struct {
	Path  string
	DType DType
	KV    DType // KV-cache storage
	// Numerics is what the path declares (model.Path.Numerics): "plain",
	// "ggml-cpu" or "llamacpp".
	Numerics string
	// Rounding is how its declared numerics prepares mul_mat inputs, set
	// when RunSteps builds its local oracle: RoundingExact or
	// RoundingVecDot.
	Rounding string
	Kinds    []string // the path's Checkpoints()
	Tokens   []int32  // every position's token
	Prompt   int      // positions prefilled in the first call
	Logits   []float32
	Vocab    int
	Capture  *Capture
}

// RunOptions drive one path through a sequence.
type RunOptions struct {
	// Tokens: with Decode > 0 the prompt, extended greedily from the path's
	// own logits by Decode single-token steps; with Decode = 0 the full
	// sequence, of which the first Prompt tokens are prefilled in one call
	// and the rest fed one at a time.
	Tokens []int32
	Prompt int
	Decode int
	// Hook runs before the capture sees each checkpoint (perturbation).
	Hook model.Hook
}

// Run resets the path, runs it as o says with a capturing hook installed,
// and removes the hook.
func Run(t Target, o RunOptions) (*Trace, error) {
	p := t.Path
	if len(o.Tokens) == 0 {
		return nil, fmt.Errorf("parity: no tokens to run")
	}
	prompt := o.Prompt
	if o.Decode > 0 || prompt <= 0 || prompt > len(o.Tokens) {
		prompt = len(o.Tokens)
	}
	vocab := p.Config().Vocab
	steps := o.Decode
	if o.Decode == 0 {
		steps = len(o.Tokens) - prompt
	}
	capt := NewCapture()
	capt.positions = prompt + steps
	p.Reset()
	p.SetHook(Chain(o.Hook, capt.Hook()))
	defer p.SetHook(nil)
	defer p.Reset()
	tr := &Trace{Path: t.name(), Numerics: p.Numerics(), DType: t.DType, KV: t.kv(), Kinds: p.Checkpoints(),
		Tokens: slices.Clone(o.Tokens[:prompt]), Prompt: prompt, Vocab: vocab, Capture: capt}
	step := func(toks []int32, pos int) error {
		capt.Begin(pos, len(toks))
		lg, err := p.Forward(toks, pos)
		if err != nil {
			return fmt.Errorf("parity: %s: forward at position %d: %w", t.name(), pos, err)
		}
		if len(lg) != len(toks)*vocab {
			return fmt.Errorf("parity: %s: forward returned %d logits, want %d×%d", t.name(), len(lg), len(toks), vocab)
		}
		tr.Logits = append(tr.Logits, lg...)
		return capt.Err()
	}
	if err := step(tr.Tokens, 0); err != nil {
		return nil, err
	}
	next := func(i int) int32 {
		if o.Decode > 0 {
			n := len(tr.Logits) / vocab
			return sample.Greedy(tr.Logits[(n-1)*vocab:])
		}
		return o.Tokens[i]
	}
	for i := 0; i < steps; i++ {
		pos := len(tr.Tokens)
		tok := next(pos)
		tr.Tokens = append(tr.Tokens, tok)
		if err := step([]int32{tok}, pos); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// CheckPerturbations is the one validation of --perturb that every command
// runs before any work: it returns an error for a perturbation aimed at a
// path that is not among targets (by display name or PATH@BACKEND), at a
// layer the model does not have, or at a checkpoint the path never
// produces (Path.Checkpoints; e.g. one the dsl path fuses away), since
// such a perturbation would silently change nothing.
func CheckPerturbations(ts []Target, ps []Perturbation) error {
	for _, pt := range ps {
		var found *Target
		for i := range ts {
			if ts[i].Matches(pt.Path) {
				found = &ts[i]
			}
		}
		if found == nil {
			return fmt.Errorf("parity: --perturb %s: path %q is not being run (paths: %s)", pt, pt.Path, strings.Join(names(ts), ","))
		}
		kind, l, err := model.ParseCheckpoint(pt.Checkpoint)
		if err != nil {
			return fmt.Errorf("parity: --perturb %s: %w", pt, err)
		}
		cfg := found.Path.Config()
		if l >= cfg.Layers {
			return fmt.Errorf("parity: --perturb %s: the model has %d layers (blk.0 … blk.%d)", pt, cfg.Layers, cfg.Layers-1)
		}
		if !slices.Contains(found.Path.Checkpoints(), kind) {
			return fmt.Errorf("parity: --perturb %s: path %s does not materialize %s (it has %s)", pt, found.name(), kind, strings.Join(found.Path.Checkpoints(), ","))
		}
	}
	return nil
}

// PerturbHook combines the perturbations aimed at target t (by display
// name or PATH@BACKEND), each a fresh seeded stream; nil when none is.
func PerturbHook(t Target, ps []Perturbation) model.Hook {
	var hs []model.Hook
	for _, p := range ps {
		if t.Matches(p.Path) {
			hs = append(hs, p.Hook())
		}
	}
	return Chain(hs...)
}

// perturbLabel formats p with the display name of the target it aims at.
func perturbLabel(ts []Target, p Perturbation) string {
	for _, t := range ts {
		if t.Matches(p.Path) {
			p.Path = t.name()
		}
	}
	return p.String()
}
