package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/internal/infile"
)

// MaxHFJSONBytes is the largest tokenizer.json VocabFromHFJSON reads
// (Qwen3's is 11 MB); a larger file, a named pipe or a device is refused.
const MaxHFJSONBytes = 64 << 20

// The Split patterns of Hugging Face tokenizer.json files that we implement.
const (
	hfQwen2Regex  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	hfLlama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

type hfFile struct {
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		Special    bool   `json:"special"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
	} `json:"added_tokens"`
	Normalizer   *hfPart `json:"normalizer"`
	PreTokenizer *hfPart `json:"pre_tokenizer"`
	Model        struct {
		Type         string           `json:"type"`
		Vocab        map[string]int64 `json:"vocab"`
		Merges       json.RawMessage  `json:"merges"`
		ByteFallback bool             `json:"byte_fallback"`
		IgnoreMerges bool             `json:"ignore_merges"`
	} `json:"model"`
}

type hfPart struct {
	Type          string    `json:"type"`
	Pretokenizers []*hfPart `json:"pretokenizers"`
	Normalizers   []*hfPart `json:"normalizers"`
	Pattern       *struct {
		Regex *string `json:"Regex"`
	} `json:"pattern"`
	UseRegex *bool `json:"use_regex"`
}

// FromHFJSON loads a byte-level BPE tokenizer from a Hugging Face
// tokenizer.json file (see VocabFromHFJSON).
func FromHFJSON(path string) (*Tokenizer, error) {
	v, err := VocabFromHFJSON(path)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromHFJSON reads a byte-level BPE vocabulary from a Hugging Face
// tokenizer.json: the model's vocab and merges (either "a b" strings or
// ["a","b"] pairs) and added_tokens, which become control tokens when
// marked special and user-defined tokens otherwise. Ids missing between
// the vocabulary and the added tokens become unused "[PAD{id}]" tokens. The
// pre-tokenizer must be the Qwen2 or Llama-3 Split regex or plain GPT-2
// ByteLevel, with ignore_merges set exactly for Llama-3; the normalizer none or NFC (which is not applied, see the
// package doc). EOS is <|endoftext|> when present; there is no BOS.
func VocabFromHFJSON(path string) (*Vocab, error) {
	data, err := infile.ReadFile(path, MaxHFJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	v, err := parseHFJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func parseHFJSON(data []byte) (*Vocab, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", ErrVocab, err)
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("%w: tokenizer.json model type %q, want BPE", ErrVocab, f.Model.Type)
	}
	if f.Model.ByteFallback {
		return nil, fmt.Errorf("%w: tokenizer.json BPE with byte_fallback is not byte-level BPE", ErrVocab)
	}
	if n := f.Normalizer; n != nil && n.Type != "NFC" {
		return nil, fmt.Errorf("%w: tokenizer.json normalizer %q is not supported (want none or NFC)", ErrVocab, n.Type)
	}
	pre, err := hfPre(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	if f.Model.IgnoreMerges != (pre == PreLlama3) {
		return nil, fmt.Errorf("%w: tokenizer.json ignore_merges=%v with the %s pre-tokenizer is not supported (llama.cpp ties ignore_merges to llama3)", ErrVocab, f.Model.IgnoreMerges, pre)
	}
	v := &Vocab{Model: ModelBPE, Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1}

	size := int64(0)
	grow := func(id int64) error {
		if id < 0 || id >= 1<<24 {
			return fmt.Errorf("%w: tokenizer.json token id %d out of range", ErrVocab, id)
		}
		size = max(size, id+1)
		return nil
	}
	for _, id := range f.Model.Vocab {
		if err := grow(id); err != nil {
			return nil, err
		}
	}
	for _, a := range f.AddedTokens {
		if err := grow(a.ID); err != nil {
			return nil, err
		}
		if a.Content == "" || a.LStrip || a.RStrip || a.SingleWord {
			return nil, fmt.Errorf("%w: tokenizer.json added token %d %q: empty, lstrip, rstrip and single_word are not supported", ErrVocab, a.ID, a.Content)
		}
	}
	v.Tokens = make([]string, size)
	v.Types = make([]int32, size)
	set := make([]bool, size)
	for s, id := range f.Model.Vocab {
		if set[id] {
			return nil, fmt.Errorf("%w: tokenizer.json token id %d used twice", ErrVocab, id)
		}
		v.Tokens[id], v.Types[id], set[id] = s, TypeNormal, true
	}
	for _, a := range f.AddedTokens {
		typ := TypeUserDefined
		if a.Special {
			typ = TypeControl
		}
		if set[a.ID] && v.Tokens[a.ID] != a.Content {
			return nil, fmt.Errorf("%w: tokenizer.json added token %q reuses id %d of %q", ErrVocab, a.Content, a.ID, v.Tokens[a.ID])
		}
		v.Tokens[a.ID], v.Types[a.ID], set[a.ID] = a.Content, typ, true
	}
	for id := range v.Tokens {
		if !set[id] {
			v.Tokens[id], v.Types[id] = fmt.Sprintf("[PAD%d]", id), TypeUnused
		}
	}
	if v.Merges, err = hfMerges(f.Model.Merges); err != nil {
		return nil, err
	}
	for id, s := range v.Tokens {
		if s == "<|endoftext|>" {
			v.EOS = int32(id)
		}
		if s == "<|im_start|>" {
			v.ChatTemplate = ChatMLTemplate
		}
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// hfPre recognises the pre-tokenizer.
func hfPre(p *hfPart) (string, error) {
	if p == nil {
		return "", fmt.Errorf("%w: tokenizer.json has no pre_tokenizer", ErrVocab)
	}
	parts := []*hfPart{p}
	if p.Type == "Sequence" {
		parts = p.Pretokenizers
	}
	var regex *string
	byteLevelRegex := false
	for _, q := range parts {
		switch {
		case q == nil:
		case q.Type == "Split" && q.Pattern != nil && q.Pattern.Regex != nil && regex == nil:
			regex = q.Pattern.Regex
		case q.Type == "ByteLevel":
			byteLevelRegex = q.UseRegex == nil || *q.UseRegex
		default:
			return "", fmt.Errorf("%w: tokenizer.json pre-tokenizer %q is not supported", ErrVocab, q.Type)
		}
	}
	switch {
	case regex != nil && !byteLevelRegex && *regex == hfQwen2Regex:
		return PreQwen2, nil
	case regex != nil && !byteLevelRegex && *regex == hfLlama3Regex:
		return PreLlama3, nil
	case regex == nil && byteLevelRegex:
		return PreDefault, nil
	case regex != nil:
		return "", fmt.Errorf("%w: tokenizer.json split pattern %q is not one we implement (qwen2, llama3)", ErrVocab, *regex)
	}
	return "", fmt.Errorf("%w: tokenizer.json pre_tokenizer is not byte-level", ErrVocab)
}

// hfMerges accepts ["a b", …] and [["a","b"], …].
func hfMerges(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		return strs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json merges are neither strings nor string pairs", ErrVocab)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 || p[0] == "" || p[1] == "" || strings.Contains(p[0], " ") || strings.Contains(p[1], " ") {
			return nil, fmt.Errorf("%w: tokenizer.json merge %d %q is not a pair of space-free tokens", ErrVocab, i, p)
		}
		out[i] = p[0] + " " + p[1]
	}
	return out, nil
}
