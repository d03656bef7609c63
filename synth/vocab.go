package synth

import (
	"fmt"
	"slices"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/embedded"
	"github.com/metallic-go/metallic/tokenizer"
)

// vocabFor returns the preset's vocabulary, padded to p.PadVocab.
func vocabFor(p Preset, opts Options) (*tokenizer.Vocab, error) {
	var v *tokenizer.Vocab
	var err error
	switch p.Vocab {
	case "stories260K":
		if opts.VocabFile != "" || opts.QwenVocab != nil {
			return nil, fmt.Errorf("synth: preset %s uses the stories260K vocabulary; a Qwen tokenizer.json applies to the Qwen presets only", p.Name)
		}
		v, err = storiesVocab()
	case "qwen":
		v, err = qwenVocab(p, opts.VocabFile, opts.QwenVocab)
	default:
		err = fmt.Errorf("synth: preset %s has unknown vocabulary %q", p.Name, p.Vocab)
	}
	if err != nil {
		return nil, err
	}
	if p.PadVocab > 0 {
		v = clone(v)
		if err := v.Pad(p.PadVocab); err != nil {
			return nil, fmt.Errorf("synth: preset %s: %w", p.Name, err)
		}
	}
	return v, nil
}

// storiesVocab reads the 512-token SentencePiece vocabulary of the embedded
// stories260K model.
func storiesVocab() (*tokenizer.Vocab, error) {
	f, err := gguf.Parse(embedded.Bytes())
	if err != nil {
		return nil, fmt.Errorf("synth: embedded stories260K: %w", err)
	}
	v, err := tokenizer.VocabFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("synth: embedded stories260K: %w", err)
	}
	return v, nil
}

// qwenVocab returns the Qwen vocabulary for p. Without a tokenizer.json it
// is tokenizer.QwenSubVocab(p.QwenTokens). With one (full, or read from
// file), presets padded to a real model's size take every token, and the
// others the same cut as QwenSubVocab, so both sources give the same
// vocabulary.
func qwenVocab(p Preset, file string, full *tokenizer.Vocab) (*tokenizer.Vocab, error) {
	if file == "" && full == nil {
		v, err := tokenizer.QwenSubVocab(p.QwenTokens)
		if err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
		return v, nil
	}
	if full == nil {
		var err error
		if full, err = tokenizer.VocabFromHFJSON(file); err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
	}
	if p.PadVocab > 0 {
		return full, nil
	}
	v, err := subVocab(full, p.QwenTokens)
	if err != nil {
		return nil, fmt.Errorf("synth: Qwen tokenizer.json: %w", err)
	}
	return v, nil
}

// qwenSpecials are the control tokens a Qwen sub-vocabulary ends with.
var qwenSpecials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}

// subVocab cuts a full byte-level BPE Qwen vocabulary (ids 0–255 are the
// byte tokens and merge i makes token 256+i) as tokenizer.QwenSubVocab
// documents: the first n−3 tokens with the first n−259 merges, then
// <|endoftext|>, <|im_start|> and <|im_end|> as control tokens; EOS is
// <|endoftext|>.
func subVocab(full *tokenizer.Vocab, n int) (*tokenizer.Vocab, error) {
	nb := n - len(qwenSpecials)
	if nb < 256 || nb > len(full.Tokens) || nb-256 > len(full.Merges) {
		return nil, fmt.Errorf("cannot cut %d tokens from a vocabulary of %d tokens and %d merges", n, len(full.Tokens), len(full.Merges))
	}
	for _, s := range qwenSpecials {
		if !slices.Contains(full.Tokens, s) {
			return nil, fmt.Errorf("the vocabulary has no %s token", s)
		}
	}
	v := &tokenizer.Vocab{
		Model: full.Model, Pre: full.Pre, BOS: -1, EOS: int32(nb), UNK: -1, PAD: -1,
		ChatTemplate: full.ChatTemplate,
		Tokens:       append(slices.Clone(full.Tokens[:nb]), qwenSpecials...),
		Merges:       slices.Clone(full.Merges[:nb-256]),
		Types:        make([]int32, n),
	}
	for i := range v.Types {
		v.Types[i] = tokenizer.TypeControl
		if i < nb {
			v.Types[i] = full.Type(int32(i))
		}
	}
	return v, v.Validate()
}

// clone copies v's slices so that padding does not modify a caller's
// vocabulary.
func clone(v *tokenizer.Vocab) *tokenizer.Vocab {
	c := *v
	c.Tokens = slices.Clone(v.Tokens)
	c.Scores = slices.Clone(v.Scores)
	c.Types = slices.Clone(v.Types)
	c.Merges = slices.Clone(v.Merges)
	return &c
}
