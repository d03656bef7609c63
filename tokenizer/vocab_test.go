package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/gguf"
)

// ggufRoundTrip writes v to an in-memory GGUF and reads it back.
func ggufRoundTrip(t *testing.T, v *Vocab) *Vocab {
	t.Helper()
	w := gguf.NewWriter()
	if err := w.AddKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	if err := v.AddToGGUF(w); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := VocabFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestGGUFRoundTrip(t *testing.T) {
	qv, err := QwenSubVocab(1000)
	if err != nil {
		t.Fatal(err)
	}
	qv.Scores = make([]float32, len(qv.Tokens)) // AddToGGUF always writes scores
	l3 := bpeVocab(PreLlama3, []string{"a b"})
	l3.Scores = make([]float32, len(l3.Tokens))
	for _, v := range []*Vocab{stories(t).Vocab(), qv, l3} {
		got := ggufRoundTrip(t, v)
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s/%s vocabulary changed in a GGUF round trip:\n got %+v\nwant %+v", v.Model, v.Pre, summary(got), summary(v))
		}
	}
}

func summary(v *Vocab) string {
	c := *v
	c.Tokens, c.Scores, c.Types, c.Merges = c.Tokens[:3], nil, nil, nil
	return strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{
		c.Model, c.Pre, strings.Join(c.Tokens, ","), c.ChatTemplate}, " ")), "\n", " ")
}

func TestVocabFromGGUFErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   map[string]any
		want string
	}{
		{"no model", map[string]any{keyTokens: []string{"a"}}, keyModel},
		{"unknown model", map[string]any{keyModel: "bert", keyTokens: []string{"a"}}, "bert"},
		{"unknown pre", map[string]any{keyModel: "gpt2", keyPre: "deepseek", keyTokens: []string{"a"}}, "deepseek"},
		{"no tokens", map[string]any{keyModel: "llama"}, keyTokens},
		{"short scores", map[string]any{keyModel: "llama", keyTokens: []string{"a", "b", "c"}, keyScores: []float32{1}}, "scores"},
		{"bad type", map[string]any{keyModel: "gpt2", keyTokens: []string{"a"}, keyTypes: []int32{9}}, "type 9"},
		{"bos out of range", map[string]any{keyModel: "gpt2", keyTokens: []string{"a"}, keyBOS: uint32(5)}, keyBOS},
		{"bad merge", map[string]any{keyModel: "gpt2", keyTokens: []string{"a"}, keyMerges: []string{"ab"}}, "merge 0"},
		{"scores wrong type", map[string]any{keyModel: "llama", keyTokens: []string{"a", "b", "c"}, keyScores: []string{"x"}}, keyScores},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := gguf.NewWriter()
			keys := make([]string, 0, len(tc.kv))
			for k := range tc.kv {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if err := w.AddKV(k, tc.kv[k]); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if _, err := w.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			_, err = FromGGUF(f)
			assert.ErrorIs(t, err, ErrVocab)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestGGUFNullSpecialID: llama.cpp writes absent special ids as 0xFFFFFFFF.
func TestGGUFNullSpecialID(t *testing.T) {
	tok := stories(t)
	if v := tok.Vocab(); v.PAD != -1 || v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || !v.AddBOS || !v.AddSpacePrefix {
		t.Fatalf("stories260K specials: %+v", summary(v))
	}
}

const tinyHF = `{
  "added_tokens": [{"id": 4, "content": "<|im_start|>", "special": true}, {"id": 6, "content": "<think>", "special": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": REGEX}, "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3}, "merges": MERGES}
}`

func writeHF(t *testing.T, regex, merges string) string {
	t.Helper()
	s := strings.Replace(strings.Replace(tinyHF, "REGEX", regex, 1), "MERGES", merges, 1)
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVocabFromHFJSON(t *testing.T) {
	qwen := `"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"`
	a, err := VocabFromHFJSON(writeHF(t, qwen, `["a b"]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := VocabFromHFJSON(writeHF(t, qwen, `[["a", "b"]]`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("string and pair merges give different vocabularies")
	}
	wantTokens := []string{"a", "b", "c", "ab", "<|im_start|>", "[PAD5]", "<think>"}
	wantTypes := []int32{1, 1, 1, 1, TypeControl, TypeUnused, TypeUserDefined}
	if a.Pre != PreQwen2 || !slices.Equal(a.Tokens, wantTokens) || !slices.Equal(a.Types, wantTypes) || !slices.Equal(a.Merges, []string{"a b"}) {
		t.Fatalf("got pre %q tokens %q types %v merges %q", a.Pre, a.Tokens, a.Types, a.Merges)
	}
	if a.ChatTemplate == "" {
		t.Error("a vocabulary with <|im_start|> should get the ChatML template")
	}
	for _, tc := range []struct{ name, regex, merges, want string }{
		{"unknown regex", `"\\w+"`, `[]`, "split pattern"},
		{"bad pair", qwen, `[["a"]]`, "merge 0"},
		{"bad merges", qwen, `{"x": 1}`, "merges"},
	} {
		if _, err := VocabFromHFJSON(writeHF(t, tc.regex, tc.merges)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	for _, bad := range []string{`{`, `{"model": {"type": "Unigram"}}`, `[]`} {
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		os.WriteFile(path, []byte(bad), 0o644)
		_, err := FromHFJSON(path)
		assert.ErrorIs(t, err, ErrVocab, "FromHFJSON(%s)", bad)
	}
	if _, err := FromHFJSON(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestLlamaCppTypes(t *testing.T) {
	v := bpeVocab(PreQwen2, nil, "<|im_end|>", "</s>", "<|fim_prefix|>", "<think>")
	v.Types[257], v.Types[258], v.Types[259] = TypeNormal, TypeUserDefined, TypeUserDefined
	got := LlamaCppTypes(v)
	if got == v || v.Types[257] != TypeNormal {
		t.Fatal("LlamaCppTypes must copy, not modify, a vocabulary it changes")
	}
	// <|im_end|> was control already, </s> and <|fim_prefix|> are promoted,
	// <think> is not a llama.cpp control text.
	if want := []int32{TypeControl, TypeControl, TypeControl, TypeUserDefined}; !slices.Equal(got.Types[256:], want) {
		t.Errorf("types %v, want %v", got.Types[256:], want)
	}
	if same := LlamaCppTypes(got); same != got {
		t.Error("LlamaCppTypes copied a vocabulary it did not change")
	}
}
