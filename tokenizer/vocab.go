package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/metallic-go/metallic/gguf"
)

// Token types, as stored in tokenizer.ggml.token_type (llama.cpp's
// llama_token_type).
const (
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Vocabulary models and byte-level pre-tokenizers understood by New.
const (
	ModelSPM = "llama" // SentencePiece
	ModelBPE = "gpt2"  // byte-level BPE

	PreQwen2   = "qwen2"
	PreLlama3  = "llama3"
	PreDefault = "default"
)

// ErrVocab is wrapped by every error about a malformed vocabulary.
var ErrVocab = errors.New("tokenizer: bad vocabulary")

// Vocab is a tokenizer vocabulary as stored in GGUF metadata. Scores may be
// nil (all zero) and Types may be nil (all TypeNormal). Special ids are -1
// when absent.
type Vocab struct {
	Model          string // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
	Pre            string // gpt2 pre-tokenizer: "qwen2", "llama3", "default"
	Tokens         []string
	Scores         []float32 // SentencePiece scores
	Types          []int32   // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
	Merges         []string  // "a b", rank order
	BOS, EOS, UNK  int32
	PAD            int32
	AddBOS         bool
	AddSpacePrefix bool
	ChatTemplate   string
}

// Size returns the number of tokens.
func (v *Vocab) Size() int { return len(v.Tokens) }

// Type returns the type of token id (TypeNormal when Types is nil).
func (v *Vocab) Type(id int32) int32 {
	if v.Types == nil {
		return TypeNormal
	}
	return v.Types[id]
}

// Validate checks lengths, special ids and the model and pre-tokenizer
// names. It returns an error wrapping ErrVocab.
func (v *Vocab) Validate() error {
	n := len(v.Tokens)
	if n == 0 {
		return fmt.Errorf("%w: no tokens", ErrVocab)
	}
	if n > 1<<30 {
		return fmt.Errorf("%w: %d tokens is too many", ErrVocab, n)
	}
	switch v.Model {
	case ModelSPM:
	case ModelBPE:
		switch v.Pre {
		case PreQwen2, PreLlama3, PreDefault:
		default:
			return fmt.Errorf("%w: unsupported gpt2 pre-tokenizer %q (want qwen2, llama3 or default)", ErrVocab, v.Pre)
		}
	default:
		return fmt.Errorf("%w: unsupported tokenizer model %q (want llama or gpt2)", ErrVocab, v.Model)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return fmt.Errorf("%w: %d scores for %d tokens", ErrVocab, len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return fmt.Errorf("%w: %d token types for %d tokens", ErrVocab, len(v.Types), n)
	}
	for i, t := range v.Types {
		if t < TypeNormal || t > TypeByte {
			return fmt.Errorf("%w: token %d has type %d (want 1..6)", ErrVocab, i, t)
		}
	}
	for _, s := range []struct {
		name string
		id   int32
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"UNK", v.UNK}, {"PAD", v.PAD}} {
		if s.id < -1 || int(s.id) >= n {
			return fmt.Errorf("%w: %s id %d out of range [0,%d)", ErrVocab, s.name, s.id, n)
		}
	}
	for i, t := range v.Tokens {
		if !utf8.ValidString(t) {
			return fmt.Errorf("%w: token %d is not valid UTF-8", ErrVocab, i)
		}
	}
	for i, m := range v.Merges {
		if a, b, ok := strings.Cut(m, " "); !ok || a == "" || b == "" {
			return fmt.Errorf("%w: merge %d %q is not \"a b\"", ErrVocab, i, m)
		}
	}
	return nil
}

// Pad appends unused tokens named "[PAD{id}]" (type 5, score 0) until the
// vocabulary has n tokens. It returns an error when n is smaller than the
// current size.
func (v *Vocab) Pad(n int) error {
	cur := len(v.Tokens)
	if n < cur {
		return fmt.Errorf("tokenizer: cannot pad %d tokens down to %d", cur, n)
	}
	if v.Types == nil {
		v.Types = make([]int32, cur, n)
		for i := range v.Types {
			v.Types[i] = TypeNormal
		}
	}
	if v.Scores == nil && v.Model == ModelSPM {
		v.Scores = make([]float32, cur, n)
	}
	for id := cur; id < n; id++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", id))
		v.Types = append(v.Types, TypeUnused)
		if v.Scores != nil {
			v.Scores = append(v.Scores, 0)
		}
	}
	return nil
}

// GGUF metadata keys of the tokenizer.
const (
	keyModel          = "tokenizer.ggml.model"
	keyPre            = "tokenizer.ggml.pre"
	keyTokens         = "tokenizer.ggml.tokens"
	keyScores         = "tokenizer.ggml.scores"
	keyTypes          = "tokenizer.ggml.token_type"
	keyMerges         = "tokenizer.ggml.merges"
	keyBOS            = "tokenizer.ggml.bos_token_id"
	keyEOS            = "tokenizer.ggml.eos_token_id"
	keyUNK            = "tokenizer.ggml.unknown_token_id"
	keyPAD            = "tokenizer.ggml.padding_token_id"
	keyAddBOS         = "tokenizer.ggml.add_bos_token"
	keyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	keyChatTemplate   = "tokenizer.chat_template"
)

// preFromGGUF maps tokenizer.ggml.pre values to our pre-tokenizer names.
var preFromGGUF = map[string]string{
	"":          PreDefault,
	"default":   PreDefault,
	"gpt-2":     PreDefault,
	"qwen2":     PreQwen2,
	"llama3":    PreLlama3,
	"llama-bpe": PreLlama3,
}

// VocabFromGGUF reads the tokenizer.* metadata of f. Absent keys take
// llama.cpp's defaults: for "llama" BOS 1, EOS 2, UNK 0, AddBOS and
// AddSpacePrefix true; for "gpt2" no special ids, no BOS, no space prefix.
func VocabFromGGUF(f *gguf.File) (*Vocab, error) {
	model, ok := f.String(keyModel)
	if !ok {
		return nil, fmt.Errorf("%w: GGUF has no string %s", ErrVocab, keyModel)
	}
	v := &Vocab{Model: model, BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	switch model {
	case ModelSPM:
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case ModelBPE:
		pre, _ := f.String(keyPre)
		p, ok := preFromGGUF[pre]
		if !ok {
			return nil, fmt.Errorf("%w: unsupported %s %q (want qwen2, llama-bpe or default)", ErrVocab, keyPre, pre)
		}
		v.Pre = p
	default:
		return nil, fmt.Errorf("%w: unsupported %s %q (want llama or gpt2)", ErrVocab, keyModel, model)
	}
	if v.Tokens, ok = f.Strings(keyTokens); !ok {
		return nil, fmt.Errorf("%w: GGUF has no string array %s", ErrVocab, keyTokens)
	}
	if _, present := f.Get(keyScores); present {
		if v.Scores, ok = f.Float32s(keyScores); !ok {
			return nil, fmt.Errorf("%w: %s is not a float32 array", ErrVocab, keyScores)
		}
	}
	if _, present := f.Get(keyTypes); present {
		if v.Types, ok = f.Int32s(keyTypes); !ok {
			return nil, fmt.Errorf("%w: %s is not an integer array", ErrVocab, keyTypes)
		}
	}
	if _, present := f.Get(keyMerges); present {
		if v.Merges, ok = f.Strings(keyMerges); !ok {
			return nil, fmt.Errorf("%w: %s is not a string array", ErrVocab, keyMerges)
		}
	}
	for _, s := range []struct {
		key string
		dst *int32
	}{{keyBOS, &v.BOS}, {keyEOS, &v.EOS}, {keyUNK, &v.UNK}, {keyPAD, &v.PAD}} {
		if _, present := f.Get(s.key); !present {
			continue
		}
		u, ok := f.Uint(s.key)
		if ok && u == 0xFFFFFFFF {
			*s.dst = -1 // llama.cpp's LLAMA_TOKEN_NULL written as uint32
			continue
		}
		if !ok || u >= uint64(len(v.Tokens)) {
			return nil, fmt.Errorf("%w: %s is not a token id below %d", ErrVocab, s.key, len(v.Tokens))
		}
		*s.dst = int32(u)
	}
	for _, s := range []struct {
		key string
		dst *bool
	}{{keyAddBOS, &v.AddBOS}, {keyAddSpacePrefix, &v.AddSpacePrefix}} {
		if _, present := f.Get(s.key); !present {
			continue
		}
		if *s.dst, ok = f.Bool(s.key); !ok {
			return nil, fmt.Errorf("%w: %s is not a bool", ErrVocab, s.key)
		}
	}
	if _, present := f.Get(keyChatTemplate); present {
		if v.ChatTemplate, ok = f.String(keyChatTemplate); !ok {
			return nil, fmt.Errorf("%w: %s is not a string", ErrVocab, keyChatTemplate)
		}
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// AddToGGUF writes the vocabulary as tokenizer.* metadata that llama.cpp
// loads. Absent special ids are not written.
func (v *Vocab) AddToGGUF(w *gguf.Writer) error {
	if err := v.Validate(); err != nil {
		return err
	}
	add := func(key string, val any) error { return w.AddKV(key, val) }
	if err := add(keyModel, v.Model); err != nil {
		return err
	}
	if v.Model == ModelBPE {
		pre := v.Pre
		if pre == PreLlama3 {
			pre = "llama-bpe"
		}
		if err := add(keyPre, pre); err != nil {
			return err
		}
	}
	if err := add(keyTokens, v.Tokens); err != nil {
		return err
	}
	scores := v.Scores
	if scores == nil {
		scores = make([]float32, len(v.Tokens))
	}
	if err := add(keyScores, scores); err != nil {
		return err
	}
	types := v.Types
	if types == nil {
		types = make([]int32, len(v.Tokens))
		for i := range types {
			types[i] = TypeNormal
		}
	}
	if err := add(keyTypes, types); err != nil {
		return err
	}
	if v.Model == ModelBPE {
		merges := v.Merges
		if merges == nil {
			merges = []string{}
		}
		if err := add(keyMerges, merges); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		key string
		id  int32
	}{{keyBOS, v.BOS}, {keyEOS, v.EOS}, {keyUNK, v.UNK}, {keyPAD, v.PAD}} {
		if s.id >= 0 {
			if err := add(s.key, uint32(s.id)); err != nil {
				return err
			}
		}
	}
	if err := add(keyAddBOS, v.AddBOS); err != nil {
		return err
	}
	if err := add(keyAddSpacePrefix, v.AddSpacePrefix); err != nil {
		return err
	}
	if v.ChatTemplate != "" {
		if err := add(keyChatTemplate, v.ChatTemplate); err != nil {
			return err
		}
	}
	return nil
}
