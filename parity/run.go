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
	Path  model.Path
	DType DType
	// KV is the path's KV-cache storage ("" means DType): the local oracle
	// rounds attention's k and v to it, and attention is judged at the
	// coarser of the two dtypes.
	KV DType
	// FlashAttn says the path runs ggml's flash attention (reported).
	FlashAttn bool
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
	capt := NewCapture()
	p.Reset()
	p.SetHook(Chain(o.Hook, capt.Hook()))
	defer p.SetHook(nil)
	defer p.Reset()
	tr := &Trace{Path: p.Name(), Numerics: p.Numerics(), DType: t.DType, KV: t.kv(), Kinds: p.Checkpoints(),
		Tokens: slices.Clone(o.Tokens[:prompt]), Prompt: prompt, Vocab: vocab, Capture: capt}
	step := func(toks []int32, pos int) error {
		capt.Begin(pos, len(toks))
		lg, err := p.Forward(toks, pos)
		if err != nil {
			return fmt.Errorf("parity: %s: forward at position %d: %w", p.Name(), pos, err)
		}
		if len(lg) != len(toks)*vocab {
			return fmt.Errorf("parity: %s: forward returned %d logits, want %d×%d", p.Name(), len(lg), len(toks), vocab)
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
	steps := o.Decode
	if o.Decode == 0 {
		steps = len(o.Tokens) - prompt
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

// checkPerturbations is CheckPerturbations over targets.
func checkPerturbations(ts []Target, ps []Perturbation) error {
	paths := make([]model.Path, len(ts))
	for i, t := range ts {
		paths[i] = t.Path
	}
	return CheckPerturbations(paths, ps)
}

// CheckPerturbations is the one validation of --perturb that every command
// runs before any work: it returns an error for a perturbation aimed at a
// path that is not among paths, at a layer the model does not have, or at
// a checkpoint the path never produces (Path.Checkpoints; e.g. one the
// dsl path fuses away), since such a perturbation would silently change
// nothing.
func CheckPerturbations(paths []model.Path, ps []Perturbation) error {
	for _, pt := range ps {
		var found model.Path
		for _, p := range paths {
			if p.Name() == pt.Path {
				found = p
			}
		}
		if found == nil {
			var names []string
			for _, p := range paths {
				names = append(names, p.Name())
			}
			return fmt.Errorf("parity: --perturb %s: path %q is not being run (paths: %s)", pt, pt.Path, strings.Join(names, ","))
		}
		kind, l, err := model.ParseCheckpoint(pt.Checkpoint)
		if err != nil {
			return fmt.Errorf("parity: --perturb %s: %w", pt, err)
		}
		cfg := found.Config()
		if l >= cfg.Layers {
			return fmt.Errorf("parity: --perturb %s: the model has %d layers (blk.0 … blk.%d)", pt, cfg.Layers, cfg.Layers-1)
		}
		if !slices.Contains(found.Checkpoints(), kind) {
			return fmt.Errorf("parity: --perturb %s: path %s does not materialize %s (it has %s)", pt, pt.Path, kind, strings.Join(found.Checkpoints(), ","))
		}
	}
	return nil
}

// perturbHook combines the perturbations aimed at one path.
func perturbHook(path string, ps []Perturbation) model.Hook {
	var hs []model.Hook
	for _, p := range ps {
		if p.Path == path {
			hs = append(hs, p.Hook())
		}
	}
	return Chain(hs...)
}
