package tokenizer

import (
	"slices"
	"testing"
)

func TestByteLevelAlphabet(t *testing.T) {
	// GPT-2's table: printable bytes map to themselves, the rest to U+0100+k
	// in byte order (0x00 → Ā, 0x20 → Ġ, 0x0A → Ċ, 0x7F → ġ, 0xAD → Ń).
	for b, want := range map[byte]rune{'a': 'a', '!': '!', 0xA1: 0xA1, 0xFF: 0xFF, 0x00: 'Ā', 0x20: 'Ġ', 0x0A: 'Ċ', 0x7F: 'ġ', 0xAD: 'Ń'} {
		if got := byteToRune[b]; got != want {
			t.Errorf("byte 0x%02X → %q, want %q", b, got, want)
		}
	}
	seen := map[rune]bool{}
	for _, r := range byteToRune {
		if seen[r] {
			t.Fatalf("rune %q used twice", r)
		}
		seen[r] = true
	}
	if got := ByteLevel(" the\n"); got != "ĠtheĊ" {
		t.Errorf("ByteLevel = %q", got)
	}
}

// bpeVocab is a byte-level vocabulary: the 256 byte tokens in byte order,
// then one token per merge, then the given specials as control tokens.
func bpeVocab(pre string, merges []string, specials ...string) *Vocab {
	v := &Vocab{Model: ModelBPE, Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1, Merges: merges}
	for b := range 256 {
		v.Tokens = append(v.Tokens, string(byteToRune[b]))
	}
	for _, m := range merges {
		a, b, _ := cutSpace(m)
		v.Tokens = append(v.Tokens, a+b)
	}
	v.Types = make([]int32, len(v.Tokens))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	for _, s := range specials {
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, TypeControl)
	}
	return v
}

func cutSpace(m string) (string, string, bool) {
	for i := range len(m) {
		if m[i] == ' ' {
			return m[:i], m[i+1:], true
		}
	}
	return m, "", false
}

func TestBPEMergeOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		merges []string
		text   string
		want   []int32
	}{
		// ids: bytes are their value; merge k makes 256+k.
		{"rank order", []string{"a b", "b c"}, "abc", []int32{256, 'c'}},
		{"rank order reversed", []string{"b c", "a b"}, "abc", []int32{'a', 256}},
		{"tie goes left", []string{"a a"}, "aaa", []int32{256, 'a'}},
		{"chain", []string{"h e", "l l", "he ll", "hell o"}, "hello", []int32{259}},
		{"space is Ġ", []string{"Ġ h", "Ġh i"}, " hi", []int32{257}},
		// The space belongs to the next word (" b"), so "a Ġ" never applies.
		{"no merge across words", []string{"a Ġ"}, "a b", []int32{'a', 0x20, 'b'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := New(bpeVocab(PreQwen2, tc.merges))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tok.Encode(tc.text, EncodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
			}
			back, err := tok.Decode(got)
			if err != nil || back != tc.text {
				t.Errorf("Decode = %q, %v", back, err)
			}
		})
	}
}

func TestBPESpecial(t *testing.T) {
	tok, err := New(bpeVocab(PreQwen2, nil, "<|im_start|>", "<|im_end|>", "<|im_start|>x"))
	if err != nil {
		t.Fatal(err)
	}
	start, end, longer := int32(256), int32(257), int32(258)
	got, _ := tok.Encode("a<|im_start|>b<|im_end|>", EncodeOptions{Special: true})
	if want := []int32{'a', start, 'b', end}; !slices.Equal(got, want) {
		t.Errorf("with Special: %v, want %v", got, want)
	}
	// The longest special token at a position wins.
	got, _ = tok.Encode("<|im_start|>x", EncodeOptions{Special: true})
	if want := []int32{longer}; !slices.Equal(got, want) {
		t.Errorf("longest match: %v, want %v", got, want)
	}
	got, _ = tok.Encode("<|im_end|>", EncodeOptions{})
	if len(got) != len("<|im_end|>") || slices.Contains(got, end) {
		t.Errorf("without Special: %v, want one token per byte", got)
	}
	if s, _ := tok.Decode([]int32{'a', end}); s != "a" {
		t.Errorf("Decode drops control tokens: %q", s)
	}
	if s, _ := tok.DecodeWith([]int32{'a', end}, DecodeOptions{Special: true}); s != "a<|im_end|>" {
		t.Errorf("DecodeWith Special: %q", s)
	}
	// User-defined tokens are matched even without Special.
	v := bpeVocab(PreQwen2, nil, "<think>")
	v.Types[256] = TypeUserDefined
	tok, _ = New(v)
	if got, _ := tok.Encode("x<think>", EncodeOptions{}); !slices.Equal(got, []int32{'x', 256}) {
		t.Errorf("user-defined token: %v", got)
	}
}

func TestBPEInvalidUTF8(t *testing.T) {
	tok, err := New(bpeVocab(PreQwen2, nil))
	if err != nil {
		t.Fatal(err)
	}
	in := "a\xff\xfeb"
	got, err := tok.Encode(in, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int32{'a', 0xff, 0xfe, 'b'}) {
		t.Errorf("Encode = %v", got)
	}
	if back, _ := tok.Decode(got); back != in {
		t.Errorf("Decode = %q, want %q", back, in)
	}
}

func TestChat(t *testing.T) {
	v, err := QwenSubVocab(300)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := New(v)
	got, err := tok.ApplyChat([]Message{{"system", "Be brief."}, {"user", "Hi"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("ApplyChat = %q, want %q", got, want)
	}
	if got, _ := tok.ApplyChat([]Message{{"user", "Hi"}}, false); got != "<|im_start|>user\nHi<|im_end|>\n" {
		t.Errorf("without generation prompt: %q", got)
	}
	if _, err := tok.ApplyChat([]Message{{"", "x"}}, true); err == nil {
		t.Error("empty role accepted")
	}
	ids, _ := tok.Encode(want, EncodeOptions{Special: true})
	if ids[0] != 298 || slices.Index(ids, 299) < 0 {
		t.Errorf("ChatML prompt ids %v lack <|im_start|>=298 / <|im_end|>=299", ids)
	}
	plain, _ := New(bpeVocab(PreDefault, nil))
	if _, err := plain.ApplyChat([]Message{{"user", "x"}}, true); err == nil {
		t.Error("ApplyChat on a vocabulary without ChatML tokens succeeded")
	}
}

// TestBPEIgnoreMerges: with llama3 a word that is a token is emitted whole
// even when the merges would split it differently (llama.cpp's
// ignore_merges); qwen2 merges it.
func TestBPEIgnoreMerges(t *testing.T) {
	merges := []string{"b c", "a b", "ab c"} // bc=256, ab=257, abc=258
	for _, tc := range []struct {
		pre  string
		want []int32
	}{
		{PreQwen2, []int32{'a', 256}},
		{PreLlama3, []int32{258}},
	} {
		tok, err := New(bpeVocab(tc.pre, merges))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := tok.Encode("abc", EncodeOptions{}); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Encode(abc) = %v, want %v", tc.pre, got, tc.want)
		}
	}
}
