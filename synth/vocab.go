package synth

import (
	"fmt"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/embedded"
	"github.com/metallic-go/metallic/tokenizer"
)

// vocabFor returns the preset's vocabulary, padded to p.PadVocab.
func vocabFor(p Preset, opts Options) (*tokenizer.Vocab, error) {
	file := opts.VocabFile
	var v *tokenizer.Vocab
	var err error
	switch p.Vocab {
	case "stories260K":
		if file != "" || opts.QwenVocab != nil {
			return nil, fmt.Errorf("synth: preset %s uses the stories260K vocabulary; --vocab applies to the Qwen presets", p.Name)
		}
		v, err = storiesVocab()
	case "qwen":
		v, err = qwenVocab(p, file, opts.QwenVocab)
	default:
		err = fmt.Errorf("synth: preset %s has unknown vocabulary %q", p.Name, p.Vocab)
	}
	if err != nil {
		return nil, err
	}
	if p.PadVocab > 0 {
		if len(v.Tokens) > p.PadVocab {
			return nil, fmt.Errorf("synth: vocabulary of %d tokens exceeds the preset's %d", len(v.Tokens), p.PadVocab)
		}
		v = pad(v, p.PadVocab)
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

// qwenVocab returns the Qwen vocabulary for p: from a tokenizer.json file
// when given (every token for presets padded to a full size, else the first
// p.QwenTokens tokens), else the embedded sub-vocabulary.
func qwenVocab(p Preset, file string, full *tokenizer.Vocab) (*tokenizer.Vocab, error) {
	if file == "" && full == nil {
		return embeddedQwen(p.QwenTokens)
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
		return nil, fmt.Errorf("synth: %s: %w", file, err)
	}
	return v, nil
}

// pad returns a copy of v with unused "[PAD{id}]" tokens appended (as
// llama.cpp's converter does for Qwen's padded embedding) up to n tokens.
func pad(src *tokenizer.Vocab, n int) *tokenizer.Vocab {
	v := *src
	v.Tokens = append(make([]string, 0, n), src.Tokens...)
	if src.Scores != nil {
		v.Scores = append(make([]float32, 0, n), src.Scores...)
	}
	if src.Types != nil {
		v.Types = append(make([]int32, 0, n), src.Types...)
	} else {
		v.Types = make([]int32, len(v.Tokens))
		for i := range v.Types {
			v.Types[i] = tokenizer.TypeNormal
		}
	}
	for id := len(v.Tokens); id < n; id++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", id))
		v.Types = append(v.Types, tokenizer.TypeUnused)
		if v.Scores != nil {
			v.Scores = append(v.Scores, 0)
		}
	}
	return &v
}

// embeddedQwen returns the embedded Qwen sub-vocabulary of n tokens.
var embeddedQwen = func(n int) (*tokenizer.Vocab, error) {
	return nil, fmt.Errorf("synth: the embedded Qwen sub-vocabulary is not available yet; pass a tokenizer.json (--vocab)")
}

// subVocab cuts a byte-level BPE vocabulary whose ids 0–255 are the byte
// tokens and whose merge i makes token 256+i (true of Qwen's) to its first n
// tokens and n−256 merges, then appends its control and user-defined tokens
// (the chat specials) with new ids after them.
func subVocab(full *tokenizer.Vocab, n int) (*tokenizer.Vocab, error) {
	if n < 256 || n > len(full.Tokens) || n-256 > len(full.Merges) {
		return nil, fmt.Errorf("cannot cut %d tokens from a vocabulary of %d tokens and %d merges", n, len(full.Tokens), len(full.Merges))
	}
	v := &tokenizer.Vocab{
		Model: full.Model, Pre: full.Pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1,
		AddBOS: full.AddBOS, AddSpacePrefix: full.AddSpacePrefix, ChatTemplate: full.ChatTemplate,
		Tokens: append([]string(nil), full.Tokens[:n]...),
		Merges: append([]string(nil), full.Merges[:n-256]...),
	}
	v.Types = make([]int32, n)
	for i := range v.Types {
		v.Types[i] = full.Type(int32(i))
	}
	for _, sp := range []struct{ old, dst *int32 }{{&full.BOS, &v.BOS}, {&full.EOS, &v.EOS}, {&full.UNK, &v.UNK}, {&full.PAD, &v.PAD}} {
		if *sp.old >= 0 && int(*sp.old) < n {
			*sp.dst = *sp.old
		}
	}
	for id := n; id < len(full.Tokens); id++ {
		t := full.Type(int32(id))
		if t != tokenizer.TypeControl && t != tokenizer.TypeUserDefined {
			continue
		}
		newID := int32(len(v.Tokens))
		v.Tokens = append(v.Tokens, full.Tokens[id])
		v.Types = append(v.Types, t)
		for _, sp := range []struct{ old, dst *int32 }{{&full.BOS, &v.BOS}, {&full.EOS, &v.EOS}, {&full.UNK, &v.UNK}, {&full.PAD, &v.PAD}} {
			if *sp.old == int32(id) {
				*sp.dst = newID
			}
		}
	}
	return v, v.Validate()
}
