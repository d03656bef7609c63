package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecErrorsExit2 runs the dsl path with broken copies of the embedded
// llama spec: each must exit 2 with a message naming the JSON path.
func TestSpecErrorsExit2(t *testing.T) {
	orig, err := os.ReadFile("../../dsl/specs/llama.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"undefined variable", `"eps": "eps"`, `"eps": "epsilon"`, "forward[1].steps[0].eps"},
		{"unknown op", `"op": "attention"`, `"op": "attentoin"`, "forward[1].steps[1].op"},
		{"unknown tensor", `"gamma": "attn_norm"`, `"gamma": "attn_nrom"`, "forward[1].steps[0].gamma"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := string(orig)
			if !strings.Contains(s, c.from) {
				t.Fatalf("spec no longer contains %q; update the test", c.from)
			}
			s = strings.Replace(s, c.from, c.to, 1)
			f := filepath.Join(t.TempDir(), "spec.json")
			if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run([]string{"generate", "../../testdata/stories260K.gguf", "--path", "dsl", "--spec", f, "--tokens", "1", "-n", "1"}, &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q does not name %s", errb.String(), c.want)
			}
		})
	}
	// The unmodified spec, given explicitly, runs and yields the golden start.
	var out, errb bytes.Buffer
	if code := run([]string{"generate", "../../testdata/stories260K.gguf", "--path", "dsl", "--spec", "../../dsl/specs/llama.json", "--tokens", "1", "-n", "3", "--temp", "0", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("valid spec: exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "403") {
		t.Errorf("valid spec output lacks golden token 403: %s", out.String())
	}
}
