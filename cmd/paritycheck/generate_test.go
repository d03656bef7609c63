package main

import (
	"bytes"
	"encoding/json"
	"github.com/metallic-go/metallic/internal/testenv"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// storiesGolden are stories260K's first 48 greedy tokens from BOS
// (internal/testenv, with their provenance).
var storiesGolden = testenv.StoriesGreedy()

func genStories(t *testing.T) string { return testenv.Stories(t) }

// genRun runs paritycheck with args and returns exit code, stdout, stderr.
func genRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenerateGolden(t *testing.T) {
	model := genStories(t)
	for _, act := range []string{"f32", "f16"} {
		t.Run(act, func(t *testing.T) {
			code, stdout, stderr := genRun("generate", model, "--tokens", "1", "-n", "48", "--temp", "0", "--act", act, "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct {
				PromptTokens []int32  `json:"prompt_tokens"`
				Tokens       []int32  `json:"tokens"`
				Text         string   `json:"text"`
				Prefill      *float64 `json:"prefill_tok_s"`
				Decode       *float64 `json:"decode_tok_s"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
			}
			if !slices.Equal(got.Tokens, storiesGolden) || !slices.Equal(got.PromptTokens, []int32{1}) {
				t.Errorf("tokens\n got %v\nwant %v", got.Tokens, storiesGolden)
			}
			if want := " Once upon a time, there was a little girl named Lily."; !strings.HasPrefix(got.Text, want) {
				t.Errorf("text %q, want it to start with %q", got.Text, want)
			}
			if got.Prefill == nil || got.Decode == nil || *got.Decode <= 0 {
				t.Errorf("tok/s keys missing or zero: %s", stdout)
			}
			if !strings.Contains(stderr, "tok/s") {
				t.Errorf("stderr has no tok/s: %q", stderr)
			}
		})
	}
}

// TestGenerateStreams: without --json the text goes to stdout, the same
// text as the JSON output.
func TestGenerateStreams(t *testing.T) {
	model := genStories(t)
	code, stdout, stderr := genRun("generate", model, "--prompt", "Once upon a time", "-n", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, js, _ := genRun("generate", model, "--prompt", "Once upon a time", "-n", "20", "--json")
	var got struct {
		PromptTokens []int32 `json:"prompt_tokens"`
		Text         string  `json:"text"`
	}
	if code != 0 || json.Unmarshal([]byte(js), &got) != nil {
		t.Fatalf("json run: exit %d %s", code, js)
	}
	if got.PromptTokens[0] != 1 {
		t.Errorf("prompt tokens %v: want BOS (1) first", got.PromptTokens)
	}
	if stdout != got.Text+"\n" || got.Text == "" {
		t.Errorf("streamed %q, JSON text %q", stdout, got.Text)
	}
}

func TestGenerateBadInput(t *testing.T) {
	model := genStories(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"prompt longer than ctx", []string{"--tokens", "1,2,3,4,5", "--ctx", "4"}, "5-token prompt exceeds the context of 4 positions"},
		{"token outside vocab", []string{"--tokens", "1,512"}, "outside the vocabulary"},
		{"negative token", []string{"--tokens", "-3"}, "outside the vocabulary"},
		{"token not a number", []string{"--tokens", "1,x"}, "not a token id"},
		{"unknown path", []string{"--path", "nope"}, `unknown path "nope"`},
		{"unknown backend", []string{"--backend", "tpu"}, `unknown backend "tpu"`},
		{"bad flag", []string{"--frobnicate"}, "frobnicate"},
		{"bad act", []string{"--act", "f8"}, "f8"},
		{"bad temp", []string{"--temp", "-1"}, "temperature"},
		{"prompt and tokens", []string{"--prompt", "a", "--tokens", "1"}, "exclusive"},
		{"missing model", []string{"MODEL=/nonexistent/model.gguf"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"generate", model, "-n", "2"}, tc.args...)
			if m, ok := strings.CutPrefix(tc.args[0], "MODEL="); ok {
				args = []string{"generate", m}
			}
			code, stdout, stderr := genRun(args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d stderr %q, want exit 2 with %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

// TestGenerateUnsupportedArch: a GGUF of an architecture no path knows is
// exit 2 with a message naming it.
func TestGenerateUnsupportedArch(t *testing.T) {
	w := gguf.NewWriter()
	if err := w.AddKV("general.architecture", "gpt2"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "gpt2.gguf")
	if err := w.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"generate", "logits"} {
		code, _, stderr := genRun(cmd, file, "--tokens", "1")
		if code != 2 || !strings.Contains(stderr, "gpt2") {
			t.Errorf("%s: exit %d stderr %q, want exit 2 naming gpt2", cmd, code, stderr)
		}
	}
}

func TestLogits(t *testing.T) {
	model := genStories(t)
	code, stdout, stderr := genRun("logits", model, "--tokens", "1,403,407", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float32 `json:"logits"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tokens, []int32{1, 403, 407}) || len(got.Logits) != 3 {
		t.Fatalf("tokens %v, %d rows", got.Tokens, len(got.Logits))
	}
	// Greedy continuation of the golden stream: argmax of each row is the
	// next golden token.
	for i, want := range storiesGolden[:3] {
		row := got.Logits[i]
		if len(row) != 512 {
			t.Fatalf("row %d has %d logits, want 512", i, len(row))
		}
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if int32(best) != want {
			t.Errorf("row %d argmax %d, want %d", i, best, want)
		}
	}
	for _, bad := range [][]string{{"logits", model}, {"logits", model, "--tokens", "600"}, {"logits", model, "--tokens", "1", "--path", "x"}} {
		if code, _, _ := genRun(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
