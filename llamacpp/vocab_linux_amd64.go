package llamacpp

import (
	"errors"
	"fmt"
	"unsafe"
)

// Vocab is llama.cpp's tokenizer of a loaded model.
type Vocab struct {
	l     *lib
	v     unsafe.Pointer // const struct llama_vocab *
	model unsafe.Pointer // owned model when opened by OpenVocab
	n     int
}

// TokenizeOptions are llama_tokenize's flags.
type TokenizeOptions struct {
	// AddSpecial adds BOS/EOS as the vocabulary asks (add_special).
	AddSpecial bool
	// ParseSpecial turns special-token text such as "<|im_start|>" into
	// its id (parse_special); otherwise it is tokenized as plain text.
	ParseSpecial bool
}

// OpenVocab loads only the vocabulary of a GGUF file (vocab_only).
func OpenVocab(file string, opts Options) (*Vocab, error) {
	l, err := load(opts.libDir())
	if err != nil {
		return nil, err
	}
	mp := l.modelDefaultParams()
	mp.NGPULayers = 0
	mp.VocabOnly = true
	clearLog()
	m := l.modelLoadFromFile(file, mp)
	if m == nil {
		return nil, fmt.Errorf("llamacpp: llama.cpp could not load the vocabulary of %s%s", file, recentLog())
	}
	return &Vocab{l: l, v: l.modelGetVocab(m), model: m}, nil
}

// Close frees the model opened by OpenVocab; it does nothing for a Path's
// Vocab.
func (v *Vocab) Close() error {
	if v.model != nil {
		v.l.modelFree(v.model)
		v.model, v.v = nil, nil
	}
	return nil
}

// Size is the number of tokens.
func (v *Vocab) Size() int {
	if v.v == nil {
		return 0
	}
	return int(v.l.vocabNTokens(v.v))
}

// Tokenize returns llama_tokenize's ids for text.
func (v *Vocab) Tokenize(text string, opts TokenizeOptions) ([]int32, error) {
	if v.v == nil {
		return nil, errors.New("llamacpp: vocabulary is closed")
	}
	if len(text) > 1<<30 {
		return nil, errors.New("llamacpp: text too long")
	}
	buf := append([]byte(text), 0)
	toks := make([]int32, len(text)+8)
	for range 2 {
		n := v.l.tokenize(v.v, unsafe.Pointer(&buf[0]), int32(len(text)), unsafe.Pointer(&toks[0]), int32(len(toks)), opts.AddSpecial, opts.ParseSpecial)
		if n >= 0 {
			return toks[:n], nil
		}
		if n == -1<<31 {
			break
		}
		toks = make([]int32, -n)
	}
	return nil, fmt.Errorf("llamacpp: llama_tokenize failed%s", recentLog())
}

// Piece returns llama_token_to_piece of id: its text as it appears in
// decoded output (special tokens rendered only when special is set).
func (v *Vocab) Piece(id int32, special bool) (string, error) {
	if err := v.check([]int32{id}); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	for range 2 {
		n := v.l.tokenToPiece(v.v, id, unsafe.Pointer(&buf[0]), int32(len(buf)), 0, special)
		if n >= 0 {
			return string(buf[:n]), nil
		}
		buf = make([]byte, -n)
	}
	return "", fmt.Errorf("llamacpp: llama_token_to_piece(%d) failed", id)
}

// Detokenize returns llama_detokenize of ids with remove_special and
// unparse_special false: the text of the ids, special tokens omitted.
func (v *Vocab) Detokenize(ids []int32) (string, error) {
	if err := v.check(ids); err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", nil
	}
	buf := make([]byte, 16*len(ids)+16)
	for range 2 {
		n := v.l.detokenize(v.v, unsafe.Pointer(&ids[0]), int32(len(ids)), unsafe.Pointer(&buf[0]), int32(len(buf)), false, false)
		if n >= 0 {
			return string(buf[:n]), nil
		}
		buf = make([]byte, -n)
	}
	return "", errors.New("llamacpp: llama_detokenize failed")
}

func (v *Vocab) check(ids []int32) error {
	if v.v == nil {
		return errors.New("llamacpp: vocabulary is closed")
	}
	n := v.Size()
	for i, id := range ids {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("llamacpp: token %d at index %d is out of range [0, %d)", id, i, n)
		}
	}
	return nil
}
