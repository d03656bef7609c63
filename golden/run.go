package golden

import (
	"fmt"
	"path"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// runOptions configure one run of one path.
type runOptions struct {
	// Name is the run's path name (Run.Path); empty means the path's.
	Name    string
	Prompt  []int32
	N       int
	Sampler sample.Options
	// Keep selects the checkpoints to capture (always including logits).
	Keep func(name string) bool
	// Extra runs before capture on every checkpoint of every forward call
	// (perturbation); it may modify the tensor.
	Extra model.Hook
	// Teacher, when set, is fed back instead of the sampled tokens (it must
	// hold N tokens), so that the logits stay comparable after a divergence.
	Teacher []int32
	// Progress, when set, is called after the prefill and after each token.
	Progress func(stage string)
}

// runPath runs p as Generate does (one prefill Forward over the prompt,
// then one Forward per generated token, sampling each from the last row of
// logits with a fresh sampler whose history is the prompt and the tokens
// fed so far) and captures the selected prompt checkpoints, the logits each
// token was sampled from and the sampled tokens.
func runPath(p model.Path, o runOptions) (*Run, error) {
	vocab := p.Config().Vocab
	for i, id := range o.Prompt {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("golden: prompt token %d at position %d is outside the vocabulary (0…%d)", id, i, vocab-1)
		}
	}
	if o.Teacher != nil && len(o.Teacher) != o.N {
		return nil, fmt.Errorf("golden: %d teacher tokens for %d generated", len(o.Teacher), o.N)
	}
	run := &Run{Path: o.Name}
	if run.Path == "" {
		run.Path = p.Name()
	}
	capturing := true
	var hookErr error
	seen := map[string]bool{}
	p.SetHook(func(t *model.Tensor) {
		if o.Extra != nil {
			o.Extra(t)
		}
		if capturing {
			run.produced = append(run.produced, t.Name)
		}
		if !capturing || (t.Name != "logits" && !o.Keep(t.Name)) {
			return
		}
		if len(t.Data) != t.Rows*t.Cols || t.Rows != len(o.Prompt) {
			if hookErr == nil {
				hookErr = fmt.Errorf("golden: %s produced %s with %d values as [%d, %d] for %d prompt positions",
					p.Name(), t.Name, len(t.Data), t.Rows, t.Cols, len(o.Prompt))
			}
			return
		}
		if seen[t.Name] {
			if hookErr == nil {
				hookErr = fmt.Errorf("golden: %s produced %s twice in one forward call", p.Name(), t.Name)
			}
			return
		}
		seen[t.Name] = true
		run.Checkpoints = append(run.Checkpoints, Checkpoint{
			Name: t.Name, Layer: t.Layer, Rows: t.Rows, Cols: t.Cols,
			Data: append([]float32(nil), t.Data...),
		})
	})
	defer p.SetHook(nil)

	p.Reset()
	logits, err := p.Forward(o.Prompt, 0)
	capturing = false
	if err != nil {
		return nil, fmt.Errorf("golden: prefill of %d tokens on %s: %w", len(o.Prompt), p.Name(), err)
	}
	if hookErr != nil {
		return nil, hookErr
	}
	if len(logits) != len(o.Prompt)*vocab {
		return nil, fmt.Errorf("golden: %s returned %d logits for %d positions × vocab %d", p.Name(), len(logits), len(o.Prompt), vocab)
	}
	if !seen["logits"] {
		// The path does not hook its logits: take them from Forward.
		run.Checkpoints = append(run.Checkpoints, Checkpoint{
			Name: "logits", Layer: -1, Rows: len(o.Prompt), Cols: vocab,
			Data: append([]float32(nil), logits...),
		})
	}
	row := logits[(len(o.Prompt)-1)*vocab:]
	if o.Progress != nil {
		o.Progress(p.Name() + " prefill")
	}

	run.GenLogits = Checkpoint{Name: tensorGenLogits, Layer: -1, Rows: o.N, Cols: vocab}
	s := sample.New(o.Sampler)
	history := append([]int32(nil), o.Prompt...) // grows with the tokens, not with N
	pos := len(o.Prompt)
	for i := 0; i < o.N; i++ {
		run.GenLogits.Data = append(run.GenLogits.Data, row...)
		id := s.Sample(row, history)
		run.Tokens = append(run.Tokens, id)
		if o.Teacher != nil {
			id = o.Teacher[i]
			if id < 0 || int(id) >= vocab {
				return nil, fmt.Errorf("golden: recorded token %d at step %d is outside the vocabulary (0…%d)", id, i, vocab-1)
			}
		}
		history = append(history, id)
		if o.Progress != nil {
			o.Progress(fmt.Sprintf("%s token %d/%d", p.Name(), i+1, o.N))
		}
		if i == o.N-1 {
			break
		}
		logits, err = p.Forward([]int32{id}, pos)
		if err != nil {
			return nil, fmt.Errorf("golden: decode at position %d on %s: %w", pos, p.Name(), err)
		}
		if len(logits) != vocab {
			return nil, fmt.Errorf("golden: %s returned %d logits for one position × vocab %d", p.Name(), len(logits), vocab)
		}
		row = logits
		pos++
	}
	return run, nil
}

// unmatched returns the globs that match none of names.
func unmatched(globs, names []string) []string {
	var out []string
	for _, g := range globs {
		keep, err := Selector([]string{g})
		if err != nil || strings.TrimSpace(g) == "" {
			continue
		}
		hit := false
		for _, n := range names {
			if keep(n) {
				hit = true
				break
			}
		}
		if !hit {
			out = append(out, g)
		}
	}
	return out
}

// Selector returns a predicate matching checkpoint names against globs
// ("blk.*.ffn_*", "logits"; path.Match syntax). No globs select everything.
// It returns an error for a malformed glob.
func Selector(globs []string) (func(name string) bool, error) {
	var pats []string
	for _, g := range globs {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("golden: bad checkpoint glob %q: %v", g, err)
		}
		pats = append(pats, g)
	}
	return func(name string) bool {
		if len(pats) == 0 {
			return true
		}
		for _, g := range pats {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}, nil
}
