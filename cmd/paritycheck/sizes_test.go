package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestHugeSizes: sizes beyond the model's context or the machine are
// refused up front with a message that says which flag to change (the
// crash test runs the same lines through the built CLI).
func TestHugeSizes(t *testing.T) {
	m := genStories(t)
	for _, tc := range hugeSizeCases(m) {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := genRun(tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", m, "--ctx", "-5"}, "want ≥ 0"},
		{[]string{"generate", m, "-n", "-1"}, "want ≥ 0"},
		{[]string{"bench", m, "--reps", "0"}, "want ≥ 1"},
		{[]string{"steps", m, "--decode", "-1"}, "want ≥ 0"},
		{[]string{"generate", m, "--ctx", "2049"}, "a context of 2049 positions exceeds the model's context length of 2048"},
		{[]string{"logits", m, "--ctx", "2", "--tokens", "1,2,3"}, "the 3-token prompt exceeds the context of 2 positions"},
	} {
		if code, _, stderr := genRun(tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tc.args[1:], code, stderr, tc.want)
		}
	}
	// The whole context is legal.
	if code, _, stderr := genRun("logits", m, "--ctx", "2048", "--tokens", "1"); code != 0 {
		t.Errorf("--ctx 2048: exit %d, stderr %q", code, stderr)
	}
}

// TestGenerateStopsAtContext: when the KV cache fills before -n tokens,
// generate stops there, exit 0, with the tokens so far, stop_reason
// "context" in the JSON and a note on stderr.
func TestGenerateStopsAtContext(t *testing.T) {
	m := genStories(t)
	for _, path := range []string{"reference", "dsl"} {
		t.Run(path, func(t *testing.T) {
			code, stdout, stderr := genRun("generate", m, "--path", path, "--tokens", "1", "--ctx", "16", "-n", "100", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct {
				Tokens     []int32 `json:"tokens"`
				Text       string  `json:"text"`
				StopReason string  `json:"stop_reason"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
			}
			// Positions 0…15 hold BOS and the first 15 tokens; the 16th is
			// sampled from position 15 and needs no position.
			if !slices.Equal(got.Tokens, storiesGolden[:16]) || got.StopReason != "context" {
				t.Errorf("tokens %v stop_reason %q, want %v and \"context\"", got.Tokens, got.StopReason, storiesGolden[:16])
			}
			if !strings.Contains(got.Text, "Once upon a time") {
				t.Errorf("text %q", got.Text)
			}
			if want := "stopped at the context: the 1-token prompt and 16 generated tokens fill --ctx 16"; !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not say %q", stderr, want)
			}
		})
	}
	// -n within the context stops for its length.
	code, stdout, _ := genRun("generate", m, "--tokens", "1", "--ctx", "16", "-n", "5", "--json")
	var got struct {
		StopReason string `json:"stop_reason"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || got.StopReason != "length" {
		t.Errorf("-n 5: exit %d, stop_reason %q, want \"length\"", code, got.StopReason)
	}
}
