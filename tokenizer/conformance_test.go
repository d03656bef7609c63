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
)

// loadCorpus reads testdata/tokenizer/corpus.json, a JSON array of strings.
func loadCorpus(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "tokenizer", "corpus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var corpus []string
	if err := json.Unmarshal(data, &corpus); err != nil {
		t.Fatalf("corpus.json: %v", err)
	}
	return corpus
}

// oracleIDs tokenizes strings with @lenml/tokenizers in one node process.
// It also reports which strings are in Unicode NFC.
func oracleIDs(t testing.TB, tokenizerJSON string, strs []string) (ids [][]int32, nfc []bool) {
	t.Helper()
	node := nodePath(t)
	req, err := json.Marshal(map[string]any{"tokenizer": tokenizerJSON, "strings": strs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "oracle.cjs"), nodeModules(t))
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node oracle: %v\n%s", err, stderr.String())
	}
	var resp struct {
		IDs [][]int32 `json:"ids"`
		NFC []bool    `json:"nfc"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("node oracle output: %v", err)
	}
	if len(resp.IDs) != len(strs) || len(resp.NFC) != len(strs) {
		t.Fatalf("node oracle returned %d results for %d strings", len(resp.IDs), len(strs))
	}
	return resp.IDs, resp.NFC
}

// TestCorpusIsBroad guards the corpus against shrinking.
func TestCorpusIsBroad(t *testing.T) {
	corpus := loadCorpus(t)
	if len(corpus) < 200 {
		t.Fatalf("corpus has %d strings, want >= 200", len(corpus))
	}
	for _, want := range []string{"", " ", "\r\n", "<|im_start|>", "👨‍👩‍👧‍👦", "你好，世界！", "don't"} {
		if !slices.Contains(corpus, want) {
			t.Errorf("corpus lacks %q", want)
		}
	}
}

// BenchmarkQwenEncodeCorpus encodes the conformance corpus with the full
// Qwen vocabulary (the speed TestQwenConformance used to assert).
func BenchmarkQwenEncodeCorpus(b *testing.B) {
	tok := fullQwen(b)
	corpus := loadCorpus(b)
	for b.Loop() {
		for _, s := range corpus {
			if _, err := tok.Encode(s, EncodeOptions{Special: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestQwenConformance encodes the whole corpus with the full Qwen
// vocabulary and requires ids identical to @lenml/tokenizers. Special token
// text is parsed (Hugging Face tokenizers always parse added tokens).
func TestQwenConformance(t *testing.T) {
	tok := fullQwen(t)
	corpus := loadCorpus(t)
	want, nfc := oracleIDs(t, qwenJSONPath(t), corpus)

	got := make([][]int32, len(corpus))
	for i, s := range corpus {
		ids, err := tok.Encode(s, EncodeOptions{Special: true})
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		got[i] = ids
	}

	matched := 0
	var report []string
	for i, s := range corpus {
		if !nfc[i] {
			t.Errorf("corpus string %d %q is not in NFC: Hugging Face normalizes it and llama.cpp does not, so it cannot be a shared conformance case", i, s)
			continue
		}
		if slices.Equal(got[i], want[i]) {
			matched++
			continue
		}
		if len(report) < 10 {
			report = append(report, fmt.Sprintf("  #%d %q\n    got  %v %q\n    want %v %q", i, s,
				got[i], pieceTexts(tok, got[i]), want[i], pieceTexts(tok, want[i])))
		}
	}
	t.Logf("Qwen conformance: %d/%d strings identical to @lenml/tokenizers", matched, len(corpus))
	if matched != len(corpus) {
		t.Errorf("%d of %d corpus strings differ; first mismatches:\n%s", len(corpus)-matched, len(corpus), strings.Join(report, "\n"))
	}
}

func pieceTexts(tok *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tok.TokenText(id)
	}
	return out
}

// TestQwenDecodeRoundTrip decodes the corpus' ids back to the exact text.
func TestQwenDecodeRoundTrip(t *testing.T) {
	tok := fullQwen(t)
	for _, s := range loadCorpus(t) {
		ids, err := tok.Encode(s, EncodeOptions{Special: true})
		if err != nil {
			t.Fatal(err)
		}
		back, err := tok.DecodeWith(ids, DecodeOptions{Special: true})
		if err != nil {
			t.Fatal(err)
		}
		if back != s {
			t.Errorf("round trip of %q gave %q", s, back)
		}
	}
}

// variantJSON writes a copy of the Qwen tokenizer.json (and its
// tokenizer_config.json) whose pre_tokenizer section is replaced by pre, so
// the llama3 and default splitters can be checked against the same oracle.
func variantJSON(t *testing.T, pre string, ignoreMerges bool) string {
	t.Helper()
	src := qwenJSONPath(t)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"pre_tokenizer"`))
	j := bytes.Index(data, []byte(`"post_processor"`))
	if i < 0 || j < i {
		t.Fatal("tokenizer.json layout changed: pre_tokenizer/post_processor not found")
	}
	var out bytes.Buffer
	out.Write(data[:i])
	out.WriteString(`"pre_tokenizer": ` + pre + ",\n  ")
	rest := data[j:]
	if ignoreMerges {
		rest = bytes.Replace(rest, []byte(`"ignore_merges": false`), []byte(`"ignore_merges": true`), 1)
	}
	out.Write(rest)
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err := os.ReadFile(filepath.Join(filepath.Dir(src), "tokenizer_config.json")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestPreTokenizerVariants checks the llama3 and GPT-2 default splitters on
// the Qwen vocabulary against the oracle run with the same pre-tokenizer
// (and ignore_merges for llama3, as Llama 3 has).
func TestPreTokenizerVariants(t *testing.T) {
	fullQwen(t) // skips when the npm files are missing
	regex, err := json.Marshal(hfLlama3Regex)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, pre, json string }{
		{PreLlama3, PreLlama3, `{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ` + string(regex) +
			`}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]}`},
		{PreDefault, PreDefault, `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := variantJSON(t, tc.json, tc.pre == PreLlama3)
			tok, err := FromHFJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Vocab().Pre != tc.pre {
				t.Fatalf("pre-tokenizer detected as %q, want %q", tok.Vocab().Pre, tc.pre)
			}
			corpus := loadCorpus(t)
			want, _ := oracleIDs(t, path, corpus)
			matched, shown := 0, 0
			for i, s := range corpus {
				got, err := tok.Encode(s, EncodeOptions{Special: true})
				if err != nil {
					t.Fatal(err)
				}
				if slices.Equal(got, want[i]) {
					matched++
				} else if shown++; shown <= 5 {
					t.Errorf("#%d %q\n  got  %v %q\n  want %v %q", i, s, got, pieceTexts(tok, got), want[i], pieceTexts(tok, want[i]))
				}
			}
			t.Logf("%s: %d/%d strings identical to @lenml/tokenizers", tc.name, matched, len(corpus))
		})
	}
}
