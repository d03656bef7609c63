package model

import (
	"errors"
	"fmt"
	"time"

	"github.com/metallic-go/metallic/sample"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	MaxTokens int            // tokens to produce; 0 runs only the prefill
	Sampler   sample.Options // sampling; the zero value is greedy
	StopAtEOS bool           // stop after producing EOS (EOS is included in Tokens)
	EOS       int32          // end-of-sequence id, used when StopAtEOS
	OnToken   func(id int32) // called as each token is produced
}

// GenerateResult is the outcome of Generate.
type GenerateResult struct {
	PromptTokens, Tokens []int32
	// PrefillSeconds times the one forward call over the prompt
	// (ForwardLast: only the last position's logits are computed where the
	// path can).
	PrefillSeconds float64
	// DecodeSeconds times the DecodeCalls one-token forward calls that
	// followed (sampling is not timed).
	DecodeSeconds float64
	DecodeCalls   int
	// Stopped says why generation ended: "length" (MaxTokens produced),
	// "eos" (the end-of-sequence token was produced) or "context" (the
	// path's KV cache is full: the next token had no position left).
	Stopped string
}

// PrefillTokPerSec returns prompt tokens per second of prefill (0 when not
// measurable).
func (r *GenerateResult) PrefillTokPerSec() float64 {
	if r.PrefillSeconds <= 0 {
		return 0
	}
	return float64(len(r.PromptTokens)) / r.PrefillSeconds
}

// DecodeTokPerSec returns one-token forward calls per second of decode (0
// when not measurable, e.g. fewer than two tokens were generated).
func (r *GenerateResult) DecodeTokPerSec() float64 {
	if r.DecodeSeconds <= 0 || r.DecodeCalls == 0 {
		return 0
	}
	return float64(r.DecodeCalls) / r.DecodeSeconds
}

// Generate resets p, runs the whole prompt in one forward call, then produces
// up to opts.MaxTokens tokens, sampling each from the last row of logits with
// a fresh sample.Sampler and feeding it back one token at a time. The
// sampler's history (for the repetition penalty) is the prompt followed by
// the tokens produced so far. When the path's KV cache fills (its Forward
// fails with an error wrapping ErrContextFull) generation stops there with
// Stopped "context" and no error: MaxTokens is a most, and memory grows
// with the tokens produced, never with MaxTokens. A prompt that does not
// fit is an error; other errors from the path are returned with the tokens
// produced so far in the result.
func Generate(p Path, prompt []int32, opts GenerateOptions) (*GenerateResult, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("model: generate needs at least one prompt token")
	}
	if opts.MaxTokens < 0 {
		return nil, fmt.Errorf("model: generate: MaxTokens %d is negative", opts.MaxTokens)
	}
	if err := opts.Sampler.Validate(); err != nil {
		return nil, err
	}
	vocab := p.Config().Vocab
	for i, id := range prompt {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("model: prompt token %d at position %d is outside the vocabulary (0…%d)", id, i, vocab-1)
		}
	}
	if opts.StopAtEOS && (opts.EOS < 0 || int(opts.EOS) >= vocab) {
		return nil, fmt.Errorf("model: EOS id %d is outside the vocabulary (0…%d)", opts.EOS, vocab-1)
	}
	res := &GenerateResult{PromptTokens: append([]int32(nil), prompt...), Stopped: "length"}
	p.Reset()
	t0 := time.Now()
	row, err := ForwardLast(p, prompt, 0)
	res.PrefillSeconds = time.Since(t0).Seconds()
	if err != nil {
		return res, fmt.Errorf("model: prefill of %d tokens on %s: %w", len(prompt), p.Name(), err)
	}
	s := sample.New(opts.Sampler)
	history := append([]int32(nil), prompt...)
	pos := len(prompt)
	for len(res.Tokens) < opts.MaxTokens {
		id := s.Sample(row, history)
		history = append(history, id)
		res.Tokens = append(res.Tokens, id)
		if opts.OnToken != nil {
			opts.OnToken(id)
		}
		if opts.StopAtEOS && id == opts.EOS {
			res.Stopped = "eos"
			break
		}
		if len(res.Tokens) == opts.MaxTokens {
			break
		}
		t := time.Now()
		row, err = ForwardLast(p, []int32{id}, pos)
		if errors.Is(err, ErrContextFull) {
			res.Stopped = "context"
			break
		}
		res.DecodeSeconds += time.Since(t).Seconds()
		res.DecodeCalls++
		if err != nil {
			return res, fmt.Errorf("model: decode at position %d on %s: %w", pos, p.Name(), err)
		}
		pos++
	}
	return res, nil
}

// lastRow returns the last of rows rows of vocab logits.
func lastRow(logits []float32, rows, vocab int) ([]float32, error) {
	if len(logits) != rows*vocab {
		return nil, fmt.Errorf("model: path returned %d logits for %d positions × vocab %d", len(logits), rows, vocab)
	}
	return logits[(rows-1)*vocab:], nil
}
