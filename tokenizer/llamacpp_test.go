package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/metallic-go/metallic/gguf"
)

// llamaCppAddonDir holds node-llama-cpp's prebuilt llama.cpp addon.
func llamaCppAddonDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(nodeModules(t), "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
	if _, err := os.Stat(filepath.Join(dir, "llama-addon.node")); err != nil {
		needOracle(t, "npm @node-llama-cpp/linux-x64 llama-addon.node missing (run ./scripts/setup.sh on linux-x64)")
	}
	return dir
}

type llamaCppAnswer struct {
	Special [][]int32 `json:"special"` // special-token text parsed
	Plain   [][]int32 `json:"plain"`
	Text    []string  `json:"text"`
}

// llamaCppOracle tokenizes strs with and without special-token parsing and
// detokenizes decode with llama.cpp, loading only the vocabulary of model.
func llamaCppOracle(t testing.TB, model string, strs []string, decode [][]int32) llamaCppAnswer {
	t.Helper()
	node := nodePath(t)
	dir := llamaCppAddonDir(t)
	req, err := json.Marshal(map[string]any{"model": model, "strings": strs, "decode": decode})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "llamacpp_oracle.cjs"), dir)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("llama.cpp oracle: %v\n%s\n%s", err, stderr.String(), lastLines(stdout.String(), 20))
	}
	const marker = "@@ORACLE-JSON@@\n"
	out := stdout.Bytes()
	i := bytes.LastIndex(out, []byte(marker))
	if i < 0 {
		t.Fatalf("llama.cpp oracle printed no answer:\n%s", lastLines(stdout.String(), 20))
	}
	var ans llamaCppAnswer
	if err := json.Unmarshal(out[i+len(marker):], &ans); err != nil {
		t.Fatalf("llama.cpp oracle answer: %v", err)
	}
	if len(ans.Special) != len(strs) || len(ans.Plain) != len(strs) || len(ans.Text) != len(decode) {
		t.Fatalf("llama.cpp oracle answered %d/%d/%d for %d/%d", len(ans.Special), len(ans.Plain), len(ans.Text), len(strs), len(decode))
	}
	return ans
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// writeVocabGGUF writes a vocabulary-only GGUF that llama.cpp loads with
// vocab_only (the qwen2 hyper-parameters are placeholders; no tensors).
func writeVocabGGUF(t *testing.T, v *Vocab) string {
	t.Helper()
	w := gguf.NewWriter()
	for _, kv := range []struct {
		k string
		v any
	}{
		{"general.architecture", "qwen2"}, {"qwen2.context_length", uint32(4096)},
		{"qwen2.embedding_length", uint32(64)}, {"qwen2.block_count", uint32(1)},
		{"qwen2.feed_forward_length", uint32(128)}, {"qwen2.attention.head_count", uint32(4)},
		{"qwen2.attention.head_count_kv", uint32(4)}, {"qwen2.attention.layer_norm_rms_epsilon", float32(1e-6)},
	} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.AddToGGUF(w); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// compareWithLlamaCpp encodes the corpus with and without special-token
// parsing and decodes the resulting ids, and requires llama.cpp's answers.
func compareWithLlamaCpp(t *testing.T, name, model string) {
	start := time.Now()
	defer func() { t.Logf("%s: compared in %v", name, time.Since(start)) }()
	f, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	corpus := loadCorpus(t)
	encode := func(special bool) [][]int32 {
		var out [][]int32
		for _, s := range corpus {
			ids, err := tok.Encode(s, EncodeOptions{Special: special})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]int32{}, ids...))
		}
		return out
	}
	ours := map[bool][][]int32{true: encode(true), false: encode(false)}
	// Decode the special-parsed ids: they hold control tokens too.
	ans := llamaCppOracle(t, model, corpus, ours[true])
	theirs := map[bool][][]int32{true: ans.Special, false: ans.Plain}
	for _, special := range []bool{true, false} {
		matched := 0
		var report []string
		for i, s := range corpus {
			if slices.Equal(ours[special][i], theirs[special][i]) {
				matched++
			} else if len(report) < 8 {
				report = append(report, fmt.Sprintf("  #%d %q\n    got  %v %q\n    want %v %q", i, s,
					ours[special][i], pieceTexts(tok, ours[special][i]), theirs[special][i], pieceTexts(tok, theirs[special][i])))
			}
		}
		t.Logf("%s special=%v: encode %d/%d identical to llama.cpp", name, special, matched, len(corpus))
		if matched != len(corpus) {
			t.Errorf("%s special=%v: encode differs from llama.cpp:\n%s", name, special, strings.Join(report, "\n"))
		}
	}
	decoded, compared, bad := 0, 0, 0
	for i, s := range corpus {
		// llama.cpp detokenizes with remove_special and unparse_special off.
		text, err := tok.DecodeWith(ours[true][i], DecodeOptions{DropPrefixSpace: true})
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(text) {
			continue // cannot cross to node and back unchanged
		}
		compared++
		if text == ans.Text[i] {
			decoded++
		} else if bad++; bad <= 8 {
			t.Errorf("%s: decode of #%d %q = %q, llama.cpp %q", name, i, s, text, ans.Text[i])
		}
	}
	t.Logf("%s: decode %d/%d identical to llama.cpp (%d ids lists decode to invalid UTF-8, not compared)", name, decoded, compared, len(corpus)-compared)
}

// validUTF8 reports whether s survives the JSON trip to node unchanged;
// other decodes cannot be compared as strings.
func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestLlamaCppStories(t *testing.T) {
	compareWithLlamaCpp(t, "stories260K", filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
}

func TestLlamaCppQwenSubVocab(t *testing.T) {
	v, err := QwenSubVocab(QwenSubVocabTokens + 3)
	if err != nil {
		t.Fatal(err)
	}
	compareWithLlamaCpp(t, "qwen sub-vocabulary", writeVocabGGUF(t, v))
}

func TestLlamaCppQwenFull(t *testing.T) {
	full := fullQwen(t).Vocab()
	v := *full
	v.Tokens, v.Types = slices.Clone(v.Tokens), slices.Clone(v.Types)
	if err := v.Pad(151936); err != nil {
		t.Fatal(err)
	}
	compareWithLlamaCpp(t, "full Qwen vocabulary", writeVocabGGUF(t, &v))
}
