package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// QwenSubVocabTokens is the number of BPE tokens in the embedded Qwen
// sub-vocabulary (tokenizer/qwenvocab/qwen8192.txt.gz).
const QwenSubVocabTokens = 8192

//go:embed qwenvocab/qwen8192.txt.gz
var qwenSubVocabGz []byte

const subVocabMagic = "# metallic qwen sub-vocabulary v1"

var qwenSub struct {
	once   sync.Once
	tokens []string
	merges []string
	err    error
}

// QwenSubVocab returns a byte-level BPE vocabulary (pre-tokenizer qwen2) of
// exactly n tokens cut from the real Qwen vocabulary: its first n−3 BPE
// tokens with the first n−259 merges (ids 0–255 are the byte tokens and
// merge i makes token 256+i, so the cut is closed under merging), then the
// control tokens <|endoftext|>, <|im_start|> and <|im_end|> at ids n−3,
// n−2 and n−1. EOS is <|endoftext|>; there is no BOS. n must be in
// [259, QwenSubVocabTokens+3]; use Pad for larger vocabularies. The result
// is a fresh copy the caller may modify.
func QwenSubVocab(n int) (*Vocab, error) {
	if n < 256+3 || n > QwenSubVocabTokens+3 {
		return nil, fmt.Errorf("tokenizer: Qwen sub-vocabulary size %d out of range [%d,%d]", n, 256+3, QwenSubVocabTokens+3)
	}
	qwenSub.once.Do(func() {
		qwenSub.tokens, qwenSub.merges, qwenSub.err = readSubVocab(qwenSubVocabGz)
	})
	if qwenSub.err != nil {
		return nil, qwenSub.err
	}
	nb := n - 3
	v := &Vocab{
		Model:        ModelBPE,
		Pre:          PreQwen2,
		Tokens:       append(append([]string(nil), qwenSub.tokens[:nb]...), "<|endoftext|>", "<|im_start|>", "<|im_end|>"),
		Merges:       append([]string(nil), qwenSub.merges[:nb-256]...),
		Types:        make([]int32, n),
		BOS:          -1,
		EOS:          int32(nb),
		UNK:          -1,
		PAD:          -1,
		ChatTemplate: ChatMLTemplate,
	}
	for i := range v.Types {
		v.Types[i] = TypeNormal
		if i >= nb {
			v.Types[i] = TypeControl
		}
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// writeSubVocab writes the first n BPE tokens of full (a Qwen vocabulary
// whose merge i makes token 256+i) and their n−256 merges in the embedded
// format: a gzip'd text file with a header, one token per line, then one
// "a b" merge per line. Byte-level tokens never contain spaces or newlines.
func writeSubVocab(w io.Writer, full *Vocab, n int) error {
	if n < 256 || n > len(full.Tokens) || n-256 > len(full.Merges) {
		return fmt.Errorf("tokenizer: cannot cut %d tokens from a vocabulary of %d tokens and %d merges", n, len(full.Tokens), len(full.Merges))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\ntokens %d\nmerges %d\n", subVocabMagic, n, n-256)
	for i, s := range full.Tokens[:n] {
		if full.Type(int32(i)) != TypeNormal || s == "" || strings.ContainsAny(s, " \n\r") {
			return fmt.Errorf("tokenizer: token %d %q cannot be stored in a sub-vocabulary", i, s)
		}
		buf.WriteString(s + "\n")
	}
	for i, m := range full.Merges[:n-256] {
		a, b, _ := strings.Cut(m, " ")
		if a+b != full.Tokens[256+i] {
			return fmt.Errorf("tokenizer: merge %d %q does not make token %d %q", i, m, 256+i, full.Tokens[256+i])
		}
		buf.WriteString(m + "\n")
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// readSubVocab parses the format written by writeSubVocab and checks that
// merge i makes token 256+i.
func readSubVocab(gz []byte) (tokens, merges []string, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary: %w", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := func() string {
		if sc.Scan() {
			return sc.Text()
		}
		return ""
	}
	count := func(name string) (int, error) {
		f := strings.Fields(line())
		if len(f) != 2 || f[0] != name {
			return 0, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary: bad %s header", name)
		}
		return strconv.Atoi(f[1])
	}
	if line() != subVocabMagic {
		return nil, nil, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary: bad magic line")
	}
	nt, err := count("tokens")
	if err != nil {
		return nil, nil, err
	}
	nm, err := count("merges")
	if err != nil {
		return nil, nil, err
	}
	if nt != QwenSubVocabTokens || nm != nt-256 {
		return nil, nil, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary has %d tokens and %d merges", nt, nm)
	}
	for range nt {
		tokens = append(tokens, line())
	}
	for i := range nm {
		m := line()
		a, b, _ := strings.Cut(m, " ")
		if a+b != tokens[256+i] {
			return nil, nil, fmt.Errorf("tokenizer: embedded Qwen sub-vocabulary: merge %d %q does not make token %q", i, m, tokens[256+i])
		}
		merges = append(merges, m)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return tokens, merges, nil
}
