package main

import (
	"strings"
	"testing"
)

// TestFidelityCommand: on the embedded model every op of the reference
// path reproduces llama.cpp's given llama.cpp's inputs (exit 0,
// identical), and a perturbed reference op is named as the first
// differing checkpoint with exit 1.
func TestFidelityCommand(t *testing.T) {
	pctNeedLlamacpp(t)
	v := pctJSON(t, 0, "fidelity", "--decode", "2")
	for _, k := range []string{"a", "b", "tokens", "rows", "identical", "first_differ"} {
		if _, ok := v[k]; !ok {
			t.Errorf("fidelity --json lacks %q", k)
		}
	}
	if v["a"] != "reference" || v["b"] != "llamacpp" || v["identical"] != true {
		t.Fatalf("a=%v b=%v identical=%v, want reference, llamacpp, true", v["a"], v["b"], v["identical"])
	}
	if rows, _ := v["rows"].([]any); len(rows) != 3*(3+5*15) {
		t.Errorf("%d rows, want 3 forward calls × (3 global + 5 layers × 15 kinds)", len(rows))
	}
	v = pctJSON(t, 1, "fidelity", "--perturb", "reference:blk.3.ffn_up=1e-3")
	fd, _ := v["first_differ"].(map[string]any)
	if fd == nil || fd["checkpoint"] != "blk.3.ffn_up" || fd["op"] != "ffn_up" {
		t.Fatalf("perturbed blk.3.ffn_up: first_differ %v", fd)
	}
	code, stdout, _ := pctRun("fidelity")
	if code != 0 || !strings.Contains(stdout, "every op of reference reproduces llamacpp bit for bit") {
		t.Errorf("text output (exit %d):\n%s", code, stdout)
	}
}

func TestFidelityBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"fidelity", "--decode", "-1"},
		{"fidelity", "--paths", "reference"},
		{"fidelity", "--paths", "reference,nosuchpath"},
		{"fidelity", "--tokens", "1,99999"},
		{"fidelity", "--perturb", "reference:blk.3.nosuch=1e-3"},
	} {
		if code, _, stderr := pctRun(args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, want 2 with a message (stderr %q)", args, code, stderr)
		}
	}
}
