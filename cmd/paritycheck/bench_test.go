package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestBenchJSONKeys(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "../../testdata/stories260K.gguf", "--prompt-len", "4", "-n", "4", "--reps", "1", "--threads", "1", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"prefill_tok_s", "decode_tok_s", "peak_rss_mb"} {
		v, ok := got[k].(float64)
		if !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, got[k])
		}
	}
}

func TestBenchBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--prompt-len", "0"},
		{"bench", "--path", "nosuch", "--reps", "1"},
		{"bench", "no/such/model.gguf"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}
