package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/tokenizer"
)

func init() {
	register(command{
		name:    "tokenize",
		summary: "print the token ids of a text with a model's vocabulary",
		run:     runTokenize,
	})
}

const tokenizeUsage = `tokenize MODEL TEXT [--bos] [--special] [--json]

Tokenizes TEXT exactly as given (no BOS unless --bos) with the vocabulary of
MODEL, a .gguf file or a Hugging Face tokenizer.json (byte-level BPE).
Prints one line per token: id and the text it decodes to. With --json,
prints {"tokens": [ids…], "pieces": [texts…]}; a piece that is not valid
UTF-8 on its own (a byte of a multi-byte character) is shown as the raw
vocabulary text instead, e.g. "<0xF0>". Put -- before a TEXT that starts
with "-".

Examples:
  paritycheck tokenize testdata/stories260K.gguf "Once upon a time" --bos
  paritycheck tokenize tokenizer.json "<|im_start|>user" --special --json`

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", tokenizeUsage, stderr)
	bos := fs.Bool("bos", false, "prepend the BOS token (when the vocabulary has one)")
	special := fs.Bool("special", false, "parse special-token text such as <|im_start|> into its id")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("tokenize needs MODEL and TEXT, got %d arguments\nUsage: paritycheck %s", len(pos), strings.SplitN(tokenizeUsage, "\n", 2)[0])
	}
	tok, err := loadTokenizer(pos[0])
	if err != nil {
		return err
	}
	ids, err := tok.Encode(pos[1], tokenizer.EncodeOptions{BOS: *bos, Special: *special})
	if err != nil {
		return err
	}
	res := struct {
		Tokens []int32  `json:"tokens"`
		Pieces []string `json:"pieces"`
	}{Tokens: append([]int32{}, ids...), Pieces: make([]string, len(ids))}
	for i, id := range ids {
		p := tok.Piece(id, true)
		if !utf8.ValidString(p) {
			p = tok.TokenText(id)
		}
		res.Pieces[i] = p
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%d tokens\n", len(ids))
	for i, id := range ids {
		fmt.Fprintf(stdout, "%8d  %s\n", id, strconv.Quote(res.Pieces[i]))
	}
	return nil
}

// loadTokenizer reads the vocabulary of a .gguf file or a tokenizer.json.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return tokenizer.FromHFJSON(path)
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}
