package tokenizer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/metallic-go/metallic/gguf"
)

// Tokenizer encodes and decodes text with one vocabulary. It is safe for
// concurrent use once built.
type Tokenizer struct {
	v   *Vocab
	ids map[string]int32 // token text -> id; the last of duplicates wins, as in llama.cpp

	// specials are the tokens matched in the input text, longest first.
	specials []int32

	// SentencePiece: byte fallback tokens <0xNN>, -1 when absent.
	spmBytes [256]int32

	// Byte-level BPE.
	pre        func(string) []string
	wholeWords bool                // llama3: a word that is a token is not merged (ignore_merges)
	bpeBytes   [256]int32          // id of the single-character token of each byte
	merges     map[uint64]mergeRes // (left id, right id) -> rank and result
	unByte     map[rune]byte       // GPT-2 alphabet character -> byte
}

type mergeRes struct{ rank, id int32 }

// New builds a tokenizer from v, which it keeps and must not be modified
// afterwards. Merges whose parts or result are not tokens are ignored.
func New(v *Vocab) (*Tokenizer, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	t := &Tokenizer{v: v, ids: make(map[string]int32, len(v.Tokens))}
	for i, s := range v.Tokens {
		t.ids[s] = int32(i)
	}
	for i, s := range v.Tokens {
		switch v.Type(int32(i)) {
		case TypeControl, TypeUserDefined, TypeUnknown:
			if s != "" {
				t.specials = append(t.specials, int32(i))
			}
		}
	}
	sort.SliceStable(t.specials, func(a, b int) bool {
		return len(v.Tokens[t.specials[a]]) > len(v.Tokens[t.specials[b]])
	})
	switch v.Model {
	case ModelSPM:
		for b := range t.spmBytes {
			t.spmBytes[b] = -1
			if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.spmBytes[b] = id
			}
		}
	case ModelBPE:
		if err := t.initBPE(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// FromGGUF builds the tokenizer stored in f's metadata, with the token
// types llama.cpp uses for it (see LlamaCppTypes).
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	return New(LlamaCppTypes(v))
}

// Vocab returns the tokenizer's vocabulary (shared, do not modify).
func (t *Tokenizer) Vocab() *Vocab { return t.v }

// Size returns the number of tokens in the vocabulary.
func (t *Tokenizer) Size() int { return len(t.v.Tokens) }

// BOS returns the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int32 { return t.v.BOS }

// EOS returns the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int32 { return t.v.EOS }

// TokenText returns the raw vocabulary text of id ("▁Once", "Ġthe",
// "<0x0A>"), or "" when id is out of range.
func (t *Tokenizer) TokenText(id int32) string {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return ""
	}
	return t.v.Tokens[id]
}

// TokenID returns the id of the token whose text is s.
func (t *Tokenizer) TokenID(s string) (int32, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// EncodeOptions controls Encode.
type EncodeOptions struct {
	BOS     bool // prepend the BOS token (ignored when the vocabulary has none)
	Special bool // match control-token text such as "<|im_start|>" in the input
}

// Encode returns the token ids of text. User-defined tokens are always
// matched in the text, control and unknown tokens only with opts.Special.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) ([]int32, error) {
	var out []int32
	if opts.BOS && t.v.BOS >= 0 {
		out = append(out, t.v.BOS)
	}
	prevSpecial := true // SentencePiece: a space is prefixed after a special token and at the start
	var err error
	t.partition(text, opts.Special, func(raw string, special int32) {
		if err != nil {
			return
		}
		if special >= 0 {
			out = append(out, special)
			prevSpecial = true
			return
		}
		switch t.v.Model {
		case ModelSPM:
			out, err = t.encodeSPM(out, raw, prevSpecial && t.v.AddSpacePrefix)
		case ModelBPE:
			out, err = t.encodeBPE(out, raw)
		}
		prevSpecial = false
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// partition splits text into runs of plain text (special = -1) and special
// tokens, scanning left to right and taking the longest special token that
// starts at the earliest position. Empty runs are not reported.
func (t *Tokenizer) partition(text string, special bool, emit func(raw string, special int32)) {
	var cands []int32
	for _, id := range t.specials {
		if special || t.v.Type(id) == TypeUserDefined {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		if text != "" {
			emit(text, -1)
		}
		return
	}
	// next[i] caches the next occurrence of cands[i] at or after pos.
	next := make([]int, len(cands))
	for i, id := range cands {
		next[i] = strings.Index(text, t.v.Tokens[id])
	}
	pos := 0
	for pos < len(text) {
		best, bestAt := -1, len(text)
		for i, id := range cands {
			if next[i] >= 0 && next[i] < pos {
				if j := strings.Index(text[pos:], t.v.Tokens[id]); j >= 0 {
					next[i] = pos + j
				} else {
					next[i] = -1
				}
			}
			// cands is sorted longest first, so the first hit at a position is the longest.
			if next[i] >= 0 && next[i] < bestAt {
				best, bestAt = i, next[i]
			}
		}
		if best < 0 {
			emit(text[pos:], -1)
			return
		}
		if bestAt > pos {
			emit(text[pos:bestAt], -1)
		}
		emit("", cands[best])
		pos = bestAt + len(t.v.Tokens[cands[best]])
	}
}

// DecodeOptions controls DecodeWith.
type DecodeOptions struct {
	// Special renders control and unknown tokens as their text
	// ("<|im_end|>", "<unk>"); otherwise they render as nothing, as in
	// llama.cpp.
	Special bool
	// DropPrefixSpace drops one leading space of the first token's piece
	// when the vocabulary adds a space prefix (SentencePiece), which is
	// what llama.cpp's llama_detokenize does with remove_special off. The
	// first token is dropped-from even when it is BOS (which renders as
	// nothing), so after BOS the space stays.
	DropPrefixSpace bool
}

// Decode returns the concatenated pieces of ids, as llama.cpp prints them
// token by token: control and unknown tokens render as nothing, for SentencePiece "▁"
// becomes a space and byte tokens become their byte, for byte-level BPE each
// character maps back to its byte. So Decode(a+b) == Decode(a)+Decode(b),
// and the golden stories260K stream decodes to " Once upon a time, …" with
// its leading space. The result may be invalid UTF-8 when ids end inside a
// multi-byte character. Ids out of range are an error.
func (t *Tokenizer) Decode(ids []int32) (string, error) {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int32, opts DecodeOptions) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.v.Tokens) {
			return "", fmt.Errorf("tokenizer: token id %d out of range [0,%d)", id, len(t.v.Tokens))
		}
		p := t.piece(id, opts.Special)
		if i == 0 && opts.DropPrefixSpace && t.v.AddSpacePrefix {
			p = strings.TrimPrefix(p, " ")
		}
		sb.WriteString(p)
	}
	return sb.String(), nil
}

// Piece returns the text one token decodes to on its own (see DecodeWith).
// It returns "" for ids out of range.
func (t *Tokenizer) Piece(id int32, special bool) string {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return ""
	}
	return t.piece(id, special)
}

func (t *Tokenizer) piece(id int32, special bool) string {
	text := t.v.Tokens[id]
	switch t.v.Type(id) {
	case TypeControl, TypeUnknown:
		if special {
			return text
		}
		return ""
	case TypeUserDefined:
		return text
	case TypeByte:
		if b, ok := parseByteToken(text); ok {
			return string([]byte{b})
		}
		return text
	}
	if t.v.Model == ModelSPM {
		return strings.ReplaceAll(text, spmSpace, " ")
	}
	buf := make([]byte, 0, len(text))
	for _, r := range text {
		if b, ok := t.unByte[r]; ok {
			buf = append(buf, b)
		} else {
			buf = append(buf, string(r)...)
		}
	}
	return string(buf)
}

// parseByteToken parses "<0xNN>" (upper or lower case hex).
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range []byte(s[3:5]) {
		switch {
		case c >= '0' && c <= '9':
			b = b<<4 | (c - '0')
		case c >= 'A' && c <= 'F':
			b = b<<4 | (c - 'A' + 10)
		case c >= 'a' && c <= 'f':
			b = b<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}
