package main

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/model"
)

// runSizes are the sizes of a run, checked by checkSizes against the model
// and the machine before anything large is allocated.
type runSizes struct {
	// Opts are the options the paths open with (Ctx, ActDType, …).
	Opts model.PathOptions
	// Paths is how many paths hold a KV cache and logits at once.
	Paths int
	// Prompt is the number of tokens of the first forward call.
	Prompt int
	// Generate is the number of tokens to generate (-n); the last one is
	// sampled, not fed, so a run takes Prompt+Generate−1 positions.
	Generate int
	// Decode is the number of greedy decode steps after the prompt
	// (steps' --decode); a run takes Prompt+Decode positions.
	Decode int
	// StopAtContext lets generation stop when the KV cache fills
	// (generate); otherwise every position must fit. Either way, a run
	// longer than the model's context length is refused.
	StopAtContext bool
	// Capture is true when every checkpoint of every position is kept
	// (steps, bisect, fidelity, report), with a float64 oracle beside it.
	Capture bool
	// Distributions is true when next-token distributions of every
	// generated position are kept in float64 (token parity).
	Distributions bool
}

// checkSizes validates s against the model: the KV cache (model.ContextSize:
// the model's context length and the machine's memory), the prompt and the
// positions generation and decoding need, and an estimate of the memory the
// run holds. Errors are usage errors (exit 2) that say which flag to change.
func checkSizes(cfg *model.Config, s runSizes) error {
	ctx, err := model.ContextSize(cfg, s.Opts)
	if err != nil {
		if s.Opts.Ctx != 0 {
			return usagef("--ctx %d: %v", s.Opts.Ctx, err)
		}
		return usagef("%v", err)
	}
	ctxFlag := fmt.Sprintf("the context of %d positions (--ctx; the model allows %d)", ctx, cfg.ContextLen)
	if s.Prompt > ctx {
		return usagef("the %d-token prompt exceeds %s", s.Prompt, ctxFlag)
	}
	room := ctx - s.Prompt // positions left after the prompt
	if s.Decode > room {
		return usagef("--decode %d: the %d-token prompt and %d decode steps exceed %s", s.Decode, s.Prompt, s.Decode, ctxFlag)
	}
	if s.Generate > room+1 {
		switch {
		case !s.StopAtContext:
			return usagef("-n %d: at most %d tokens can follow the %d-token prompt in %s", s.Generate, room+1, s.Prompt, ctxFlag)
		case cfg.ContextLen > 0 && s.Generate > cfg.ContextLen-s.Prompt+1:
			return usagef("-n %d: at most %d tokens can follow the %d-token prompt in the model's context length of %d",
				s.Generate, max(cfg.ContextLen-s.Prompt+1, 0), s.Prompt, cfg.ContextLen)
		}
	}
	positions := s.Prompt + max(s.Decode, min(s.Generate, room+1)-1)
	need := estimateBytes(cfg, s, ctx, positions)
	what := fmt.Sprintf("this run (%d path(s), KV cache of %d positions, %d positions of logits)", max(s.Paths, 1), ctx, positions)
	if err := model.CheckMemory(what, need); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// estimateBytes is a lower estimate of what a run holds at once: per path
// the KV cache (in its own dtype, --kv) and the logits of every position
// (the prompt's come back from one forward call), the captured checkpoints
// and their float64 oracle, the float64 distributions of token parity.
func estimateBytes(cfg *model.Config, s runSizes, ctx, positions int) uint64 {
	elem := model.KVElemBytes(s.Opts)
	paths := float64(max(s.Paths, 1))
	pos, vocab := float64(positions), float64(cfg.Vocab)
	b := paths * (float64(cfg.KVCacheBytes(ctx, elem)) + pos*vocab*4)
	if s.Capture {
		q, kv := float64(cfg.Heads*cfg.HeadDim), float64(cfg.KVHeads*cfg.HeadDim)
		perPos := float64(cfg.Layers)*(7*float64(cfg.Dim)+4*q+4*kv+3*float64(cfg.FF)) + 2*float64(cfg.Dim) + vocab
		b += paths*pos*perPos*4 + pos*perPos*8
	}
	if s.Distributions {
		b += paths * pos * vocab * 8
	}
	if b >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(b)
}
