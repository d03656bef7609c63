package tokenizer

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var updateQwenVocab = flag.Bool("update-qwenvocab", false, "regenerate tokenizer/qwenvocab/qwen8192.txt.gz from the npm Qwen tokenizer.json")

// TestQwenSubVocabFile regenerates the embedded sub-vocabulary from the npm
// tokenizer.json and requires it byte-identical to the committed file. This
// is also the generator: go test ./tokenizer -run TestQwenSubVocabFile -update-qwenvocab
func TestQwenSubVocabFile(t *testing.T) {
	full := fullQwen(t).Vocab()
	var buf bytes.Buffer
	if err := writeSubVocab(&buf, full, QwenSubVocabTokens); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("qwenvocab", "qwen8192.txt.gz")
	if *updateQwenVocab {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes); rebuild to embed it", path, buf.Len())
		return
	}
	if !bytes.Equal(buf.Bytes(), qwenSubVocabGz) {
		t.Fatalf("embedded %s differs from one regenerated from %s; rerun with -update-qwenvocab and update PROVENANCE.md", path, qwenJSONPath(t))
	}
}

// TestQwenSubVocabMergeClaim checks on the full vocabulary that merge i
// makes token 256+i from two earlier tokens, which makes every prefix cut
// closed under merging.
func TestQwenSubVocabMergeClaim(t *testing.T) {
	full := fullQwen(t)
	v := full.Vocab()
	if len(v.Merges) != 151643-256 {
		t.Fatalf("%d merges, want %d", len(v.Merges), 151643-256)
	}
	for i, m := range v.Merges {
		r, ok := full.merges[pairKey(mustID(t, full, m, 0), mustID(t, full, m, 1))]
		if !ok || r.id != int32(256+i) || r.rank != int32(i) {
			t.Fatalf("merge %d %q makes %+v, want id %d", i, m, r, 256+i)
		}
	}
}

func mustID(t *testing.T, tok *Tokenizer, merge string, side int) int32 {
	t.Helper()
	parts := bytes.SplitN([]byte(merge), []byte(" "), 2)
	id, ok := tok.TokenID(string(parts[side]))
	if !ok || id >= 256+int32(len(tok.Vocab().Merges)) {
		t.Fatalf("merge %q part %d is not an earlier token", merge, side)
	}
	return id
}

func TestQwenSubVocab(t *testing.T) {
	for _, bad := range []int{0, 258, QwenSubVocabTokens + 4} {
		if _, err := QwenSubVocab(bad); err == nil {
			t.Errorf("QwenSubVocab(%d) succeeded", bad)
		}
	}
	v, err := QwenSubVocab(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 1000 || len(v.Merges) != 1000-3-256 || v.EOS != 997 || v.BOS != -1 {
		t.Fatalf("got %d tokens, %d merges, EOS %d, BOS %d", len(v.Tokens), len(v.Merges), v.EOS, v.BOS)
	}
	if got := v.Tokens[997:]; !slices.Equal(got, []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) || v.Types[998] != TypeControl || v.Types[996] != TypeNormal {
		t.Fatalf("specials %q types %v", got, v.Types[996:])
	}
	// Known Qwen ids (the same in every Qwen2/3 vocabulary): byte tokens
	// 0–255, "ĠĠ"=256, "in"=258, "Ġt"=259.
	for id, s := range map[int]string{0: "!", 32: "A", 188: "Ā", 220: "Ġ", 256: "ĠĠ", 258: "in", 259: "Ġt"} {
		if v.Tokens[id] != s {
			t.Errorf("token %d = %q, want %q", id, v.Tokens[id], s)
		}
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("<|im_start|>user\nhi<|im_end|>", EncodeOptions{Special: true})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != 998 || ids[len(ids)-1] != 999 {
		t.Errorf("special tokens not mapped: %v", ids)
	}
}

// TestQwenSubVocabMatchesFull: every id the sub-vocabulary produces is
// what the full vocabulary (npm tokenizer.json) produces when the full one
// only uses ids below the cut. Without the file it skips (fails under
// METALLIC_REQUIRE_ORACLES=1).
func TestQwenSubVocabMatchesFull(t *testing.T) {
	full := fullQwen(t)
	small, err := QwenSubVocab(QwenSubVocabTokens + 3)
	if err != nil {
		t.Fatal(err)
	}
	stok, err := New(small)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range loadCorpus(t) {
		want, _ := full.Encode(s, EncodeOptions{})
		got, err := stok.Encode(s, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Max(append([]int32{0}, want...)) < QwenSubVocabTokens && !slices.Equal(got, want) {
			t.Errorf("%q: sub-vocabulary %v, full %v", s, got, want)
		}
	}
}

func TestPad(t *testing.T) {
	v, err := QwenSubVocab(300)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Pad(151936); err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 151936 || v.Tokens[300] != "[PAD300]" || v.Tokens[151935] != "[PAD151935]" || v.Types[151935] != TypeUnused {
		t.Fatalf("pad: %d tokens, last %q type %d", len(v.Tokens), v.Tokens[len(v.Tokens)-1], v.Types[len(v.Types)-1])
	}
	if err := v.Pad(10); err == nil {
		t.Error("Pad to a smaller size succeeded")
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("[PAD300] hello", EncodeOptions{Special: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id >= 300 {
			t.Errorf("unused token %d produced for plain text: %v", id, ids)
		}
	}
}
