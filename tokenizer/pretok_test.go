package tokenizer

import (
	"slices"
	"testing"
)

// Expected splits worked out by hand from the regular expressions.
func TestSplitQwen2(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"  hello", []string{" ", " hello"}},
		{"hello   ", []string{"hello", "   "}},
		{"a\n\nb", []string{"a", "\n\n", "b"}},
		{"x  \n  y", []string{"x", "  \n", " ", " y"}},
		{"12345", []string{"1", "2", "3", "4", "5"}},
		{"don't", []string{"don", "'t"}},
		{"DON'T", []string{"DON", "'T"}},
		{"we'LL", []string{"we", "'LL"}},
		{"'hello'", []string{"'hello", "'"}},
		{"!!!\n\nfoo", []string{"!!!\n\n", "foo"}},
		{" ?!", []string{" ?!"}},
		{"\thello", []string{"\thello"}},
		{"a\r\n", []string{"a", "\r\n"}},
		{"你好，世界", []string{"你好", "，世界"}},
		{"x\u00a0y", []string{"x", "\u00a0y"}},
		{"", nil},
	} {
		if got := splitLlama3(tc.in, 1); !slices.Equal(got, tc.want) {
			t.Errorf("qwen2 split %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitLlama3(t *testing.T) {
	if got, want := splitLlama3("1234567 89", 3), []string{"123", "456", "7", " ", "89"}; !slices.Equal(got, want) {
		t.Errorf("llama3 split = %q, want %q", got, want)
	}
}

func TestSplitGPT2(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"don't", []string{"don", "'t"}},
		{"DON'T", []string{"DON", "'", "T"}},
		{" 123 abc", []string{" 123", " abc"}},
		{"\thello", []string{"\t", "hello"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}}, // no [\r\n] rule: \s+(?!\S) backs off one
		{"x!! y", []string{"x", "!!", " y"}},
	} {
		if got := splitGPT2(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("gpt2 split %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}
