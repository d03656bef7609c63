package tokenizer

import (
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
)

// goldenStories and goldenStoriesText are stories260K's golden greedy
// stream and its text (internal/testenv, with their provenance).
var (
	goldenStories     = testenv.StoriesGreedy()
	goldenStoriesText = testenv.StoriesGreedyText
)

func TestStoriesGoldenDecode(t *testing.T) {
	tok := stories(t)
	got, err := tok.Decode(goldenStories)
	if err != nil {
		t.Fatal(err)
	}
	if got != goldenStoriesText {
		t.Fatalf("Decode(golden) = %q, want %q", got, goldenStoriesText)
	}
	// BOS renders as nothing and the space stays, as in llama.cpp.
	got, err = tok.Decode(append([]int32{1}, goldenStories...))
	if err != nil {
		t.Fatal(err)
	}
	if got != goldenStoriesText {
		t.Fatalf("Decode(BOS+golden) = %q, want %q", got, goldenStoriesText)
	}
	// llama_detokenize drops the prefix space of a first non-BOS token.
	got, err = tok.DecodeWith(goldenStories, DecodeOptions{DropPrefixSpace: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(goldenStoriesText, " "); got != want {
		t.Fatalf("DecodeWith(golden, DropPrefixSpace) = %q, want %q", got, want)
	}
}

func TestStoriesGoldenEncode(t *testing.T) {
	tok := stories(t)
	// llama.cpp prefixes a space, so the text without its own leading space
	// encodes to exactly the golden ids.
	text := strings.TrimPrefix(goldenStoriesText, " ")
	got, err := tok.Encode(text, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, goldenStories) {
		t.Fatalf("Encode(%q)\n got %v\nwant %v", text, got, goldenStories)
	}
	got, err = tok.Encode(text, EncodeOptions{BOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, append([]int32{1}, goldenStories...)) {
		t.Fatalf("Encode with BOS = %v", got)
	}
	back, err := tok.DecodeWith(goldenStories, DecodeOptions{DropPrefixSpace: true})
	if err != nil || back != text {
		t.Fatalf("DecodeWith(Encode(text), DropPrefixSpace) = %q, %v; want %q", back, err, text)
	}
}

func TestStoriesEncode(t *testing.T) {
	tok := stories(t)
	// Expected ids worked out by hand from the vocabulary: <unk>=0 <s>=1
	// </s>=2, <0xNN> = 3+NN, "▁"=410, "▁Once"=403, "▁upon"=407, "▁a"=261,
	// "▁time"=378.
	for _, tc := range []struct {
		text string
		opts EncodeOptions
		want []int32
	}{
		{"Once upon a time", EncodeOptions{BOS: true}, []int32{1, 403, 407, 261, 378}},
		{"Once upon a time", EncodeOptions{}, []int32{403, 407, 261, 378}},
		{" Once", EncodeOptions{}, []int32{410, 403}},
		{"", EncodeOptions{BOS: true}, []int32{1}},
		{"", EncodeOptions{}, nil},
		{" ", EncodeOptions{}, []int32{410, 410}},
		// 😀 is F0 9F 98 80: no piece, so four byte tokens 3+0xF0 …
		{"😀", EncodeOptions{}, []int32{410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}},
		{"\n", EncodeOptions{}, []int32{410, 3 + 0x0A}},
		// Control tokens are text unless Special; after one a space is prefixed again.
		{"<s>Once</s>", EncodeOptions{Special: true}, []int32{1, 403, 2}},
		{"Once<s>Once", EncodeOptions{Special: true}, []int32{403, 1, 403}},
	} {
		got, err := tok.Encode(tc.text, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q, %+v) = %v %q, want %v", tc.text, tc.opts, got, pieceTexts(tok, got), tc.want)
		}
	}
	// Without Special "<s>" is plain text and never the BOS id.
	got, err := tok.Encode("<s>", EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, 1) || len(got) < 2 {
		t.Errorf("Encode(\"<s>\") without Special = %v", got)
	}
	if s, _ := tok.Decode(got); s != " <s>" {
		t.Errorf("Decode(Encode(\"<s>\")) = %q", s)
	}
}

func TestStoriesDecode(t *testing.T) {
	tok := stories(t)
	for _, tc := range []struct {
		ids  []int32
		want string
	}{
		{[]int32{3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, "😀"},
		{[]int32{1, 410, 403}, "  Once"}, // nothing is dropped after BOS
		{[]int32{2}, ""},                 // control tokens render as nothing
		{[]int32{403, 3 + 0x0A, 403}, " Once\n Once"},
	} {
		got, err := tok.Decode(tc.ids)
		if err != nil || got != tc.want {
			t.Errorf("Decode(%v) = %q, %v; want %q", tc.ids, got, err, tc.want)
		}
	}
	if _, err := tok.Decode([]int32{512}); err == nil {
		t.Error("Decode of id 512 (vocab 512) succeeded")
	}
	if _, err := tok.Decode([]int32{-1}); err == nil {
		t.Error("Decode of id -1 succeeded")
	}
	if got, _ := tok.DecodeWith([]int32{2}, DecodeOptions{Special: true}); got != "</s>" {
		t.Errorf("DecodeWith(</s>, Special) = %q", got)
	}
}

// spmVocab builds a small SentencePiece vocabulary.
func spmVocab(tokens []string, scores []float32) *Vocab {
	types := make([]int32, len(tokens))
	for i := range types {
		types[i] = TypeNormal
	}
	types[0], types[1], types[2] = TypeUnknown, TypeControl, TypeControl
	return &Vocab{Model: ModelSPM, Tokens: tokens, Scores: scores, Types: types,
		BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
}

// TestSPMMergeOrder checks the merge order by hand: the highest-scoring
// bigram merges first, the leftmost on ties.
func TestSPMMergeOrder(t *testing.T) {
	toks := []string{"<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁a"}
	for _, tc := range []struct {
		name      string
		ab, spA   float32
		want      []int32
		wantNoPre []int32
	}{
		{"ab wins", -1, -2, []int32{3, 6}, []int32{6}},
		{"▁a wins", -2, -1, []int32{7, 5}, []int32{6}},
		{"tie goes left", -1, -1, []int32{7, 5}, []int32{6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := spmVocab(toks, []float32{0, 0, 0, -5, -5, -5, tc.ab, tc.spA})
			tok, err := New(v)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := tok.Encode("ab", EncodeOptions{}); !slices.Equal(got, tc.want) {
				t.Errorf("Encode(ab) = %v, want %v", got, tc.want)
			}
			v.AddSpacePrefix = false
			tok, _ = New(v)
			if got, _ := tok.Encode("ab", EncodeOptions{}); !slices.Equal(got, tc.wantNoPre) {
				t.Errorf("without space prefix Encode(ab) = %v, want %v", got, tc.wantNoPre)
			}
		})
	}
}

// TestSPMUnknown: without byte tokens, unknown bytes become <unk>, one per
// byte; without <unk> either, Encode fails.
func TestSPMUnknown(t *testing.T) {
	v := spmVocab([]string{"<unk>", "<s>", "</s>", "▁", "a"}, nil)
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Encode("aé", EncodeOptions{}); !slices.Equal(got, []int32{3, 4, 0, 0}) {
		t.Errorf("Encode(aé) = %v, want [3 4 0 0]", got)
	}
	v.UNK = -1
	tok, _ = New(v)
	if _, err := tok.Encode("é", EncodeOptions{}); err == nil {
		t.Error("Encode without byte or unknown tokens succeeded")
	}
}
