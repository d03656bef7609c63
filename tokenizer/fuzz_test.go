package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip checks that encoding never fails or panics and is lossless:
// byte-level BPE decodes back to the exact input bytes (valid UTF-8 or
// not), and SentencePiece valid UTF-8 to the input with its prefixed space.
// (On invalid UTF-8 SentencePiece follows llama.cpp: a lead byte takes the
// bytes after it as its character, which can swallow part of a "▁".)
func FuzzRoundTrip(f *testing.F) {
	for _, s := range loadCorpus(f) {
		f.Add(s)
	}
	f.Add("a\xff\xfe\xc3")
	qv, err := QwenSubVocab(QwenSubVocabTokens + 3)
	if err != nil {
		f.Fatal(err)
	}
	qwen, err := New(qv)
	if err != nil {
		f.Fatal(err)
	}
	spm := stories(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, special := range []bool{false, true} {
			ids, err := qwen.Encode(s, EncodeOptions{Special: special})
			if err != nil {
				t.Fatal(err)
			}
			back, err := qwen.DecodeWith(ids, DecodeOptions{Special: true})
			if err != nil || back != s {
				t.Fatalf("qwen special=%v: %q -> %v -> %q (%v)", special, s, ids, back, err)
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		ids, err := spm.Encode(s, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := spm.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(s, spmSpace, " ")
		if s != "" {
			want = " " + want
		}
		if back != want {
			t.Fatalf("spm: %q -> %v -> %q, want %q", s, ids, back, want)
		}
	})
}
