package llamacpp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/tokenizer"
)

// corpus returns the shared tokenizer corpus, with special-token strings
// added for the Qwen vocabulary.
func corpus(t *testing.T) []string {
	t.Helper()
	wd, _ := os.Getwd()
	data, err := os.ReadFile(filepath.Join(wd, "..", "testdata", "tokenizer", "corpus.json"))
	if err != nil {
		t.Fatalf("shared corpus: %v", err)
	}
	var texts []string
	if err := json.Unmarshal(data, &texts); err != nil {
		t.Fatalf("corpus.json: %v", err)
	}
	if len(texts) < 50 {
		t.Fatalf("corpus has %d texts", len(texts))
	}
	return append(texts, "<|im_start|>user\nHi<|im_end|>\n", "a<|endoftext|>b", "<s> </s>")
}

// TestTokenizerConformance checks that llama.cpp's llama_tokenize and our
// tokenizer give identical ids for every corpus text.
func TestTokenizerConformance(t *testing.T) {
	needLib(t)
	wd, _ := os.Getwd()
	models := map[string]string{"stories260K": filepath.Join(wd, "..", "testdata", "stories260K.gguf")}
	m := synthModel(t, "tiny-qwen2", gguf.TypeF32)
	models["tiny-qwen2"] = m.Path
	texts := corpus(t)
	for name, file := range models {
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ours, err := tokenizer.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			lc, err := llamacpp.OpenVocab(file, llamacpp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			if lc.Size() != ours.Size() {
				t.Fatalf("vocabulary size: llama.cpp %d, ours %d", lc.Size(), ours.Size())
			}
			checked, mismatches := 0, 0
			for _, text := range texts {
				for _, special := range []bool{false, true} {
					want, err := lc.Tokenize(text, llamacpp.TokenizeOptions{ParseSpecial: special})
					if err != nil {
						t.Fatal(err)
					}
					got, err := ours.Encode(text, tokenizer.EncodeOptions{Special: special})
					if err != nil {
						t.Fatalf("Encode(%q): %v", text, err)
					}
					checked++
					if !slices.Equal(got, want) {
						mismatches++
						if mismatches <= 10 {
							t.Errorf("%q special=%v: ours %v, llama.cpp %v", text, special, got, want)
						}
					}
				}
			}
			t.Logf("%d tokenizations compared, %d differ", checked, mismatches)
			if name == "stories260K" {
				got, _ := ours.Encode("Hello world", tokenizer.EncodeOptions{BOS: true})
				want, _ := lc.Tokenize("Hello world", llamacpp.TokenizeOptions{AddSpecial: true})
				if !slices.Equal(got, want) || want[0] != 1 {
					t.Errorf("with BOS: ours %v, llama.cpp %v", got, want)
				}
			}
			// Every token's piece equals our decoding of it alone (modulo
			// the leading space, as below).
			for id := range int32(lc.Size()) {
				piece, err := lc.Piece(id, false)
				if err != nil {
					t.Fatal(err)
				}
				a, err := ours.Decode([]int32{id})
				if err != nil {
					t.Fatal(err)
				}
				if piece == "" {
					// Control and unknown tokens: llama.cpp renders them
					// only with special=true; our Decode shows "<unk>".
					continue
				}
				if piece != a && (name != "stories260K" || strings.TrimPrefix(a, " ") != strings.TrimPrefix(piece, " ")) {
					t.Errorf("token %d: piece %q, our Decode %q", id, piece, a)
				}
			}
			if name == "stories260K" {
				if p, _ := lc.Piece(403, false); p != " Once" {
					t.Errorf("Piece(403) = %q, want \" Once\"", p)
				}
				if p, _ := lc.Piece(1, true); p != "<s>" {
					t.Errorf("Piece(1, special) = %q, want <s>", p)
				}
			}
			if _, err := lc.Piece(int32(lc.Size()), false); err == nil {
				t.Error("Piece accepted an out-of-range id")
			}
			for _, text := range texts[:60] {
				ids, _ := ours.Encode(text, tokenizer.EncodeOptions{})
				a, err := ours.Decode(ids)
				if err != nil {
					t.Fatal(err)
				}
				b, err := lc.Detokenize(ids)
				if err != nil {
					t.Fatal(err)
				}
				// llama_detokenize drops the space SentencePiece's
				// add_space_prefix put in front of the first token; our
				// Decode keeps it.
				if name == "stories260K" {
					a = strings.TrimPrefix(a, " ")
				}
				if a != b {
					t.Errorf("decode %v: ours %q, llama.cpp %q", ids, a, b)
				}
			}
		})
	}
}
