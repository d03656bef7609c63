package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/parity"
)

// `repro` writes the folder and prints (or returns as JSON) the step
// table's row it reproduces; a stage checkpoint needs --unfuse.
func TestReproCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	var stdout, stderr bytes.Buffer
	args := []string{"repro", "../../testdata/stories260K.gguf", "--checkpoint", "blk.1.ffn_act.swiglu", "--unfuse", "--numerics", "plain",
		"--tokens", "1,403,407", "--decode", "1", "--out", out, "--json"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Checkpoint, Path, Backend string
		Calls                     int
		Runners                   []string
		Row                       parity.Row
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if got.Path != "dsl-unfused" || got.Backend != "cpu" || got.Calls != 2 || len(got.Runners) != 4 || got.Row.Verdict != parity.Pass || got.Row.Stage != "swiglu" {
		t.Fatalf("%+v", got)
	}
	for _, f := range []string{"repro.json", "README.md", "run.sh", "host/cuda_runner.cpp", "cuda/runner.cu", "metal/runner.mm", "expected.f64.bin"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// repro --run: the Go runner reproduces the cpu path's figures (exit
	// 0); other flags do not apply to it, and a folder that is not one is
	// refused (exit 2).
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"repro", "../../testdata/stories260K.gguf", "--run", out}, 0, "figures: identical to the step table's"},
		{[]string{"repro", "../../testdata/stories260K.gguf", "--run", out, "--decode", "2"}, 2, "--decode do not apply"},
		{[]string{"repro", "--run", t.TempDir()}, 2, "is not a repro folder"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.want, stdout.String(), stderr.String())
		}
	}
}

// Bad repro requests are usage errors (exit 2) with a message.
func TestReproUsage(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	model := "../../testdata/stories260K.gguf"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"repro", model, "--out", filepath.Join(dir, "a")}, "needs --checkpoint"},
		{[]string{"repro", model, "--checkpoint", "logits"}, "needs --out"},
		{[]string{"repro", model, "--checkpoint", "logits", "--path", "llamacpp", "--out", filepath.Join(dir, "a")}, "dsl or the reference path"},
		{[]string{"repro", model, "--checkpoint", "logits", "--path", "dsl@cuda", "--backend", "cpu", "--out", filepath.Join(dir, "a")}, "give one"},
		{[]string{"repro", model, "--checkpoint", "logits", "--path", "dsl@", "--out", filepath.Join(dir, "a")}, "PATH@BACKEND"},
		{[]string{"repro", model, "--checkpoint", "blk.0.q.gemv", "--out", filepath.Join(dir, "a")}, "--unfuse"},
		{[]string{"repro", model, "--checkpoint", "blk.0.q", "--path", "reference", "--unfuse", "--out", filepath.Join(dir, "a")}, "--unfuse does not apply"},
		{[]string{"repro", model, "--checkpoint", "logits", "--out", full}, "not empty"},
		{[]string{"repro", model, "--checkpoint", "logits", "--perturb", "reference:logits=1e-3", "--out", filepath.Join(dir, "a")}, "runs path dsl only"},
		{[]string{"repro", model, "--checkpoint", "blk.0.attn_norm", "--out", filepath.Join(dir, "a")}, "does not materialize"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args[3:], code, stderr.String(), c.want)
		}
	}
}

// bisect --unfuse names the stage of an injected stage fault and calls an
// injected composition fault one, in text and JSON.
func TestBisectUnfuse(t *testing.T) {
	model := "../../testdata/stories260K.gguf"
	for _, c := range []struct {
		fault dsl.Fault
		want  []string
		key   string
	}{
		{dsl.Fault{Checkpoint: "blk.1.ffn_act", Stage: "swiglu", Rel: 1e-3},
			[]string{"first failing checkpoint: blk.1.ffn_act.swiglu", "stage:    swiglu of the kernel that produces blk.1.ffn_act", "path:     dsl-unfused"}, `"stage": "swiglu"`},
		{dsl.Fault{Checkpoint: "blk.1.ffn_inp", Arg: "residual", Shift: 4},
			[]string{"first failing checkpoint: blk.1.ffn_inp", "fault:    in the composition", parity.CompositionNote}, `"composition": true`},
	} {
		restore := dsl.SetTestFault(&c.fault)
		for _, js := range []bool{false, true} {
			args := []string{"bisect", model, "--paths", "reference,dsl", "--unfuse", "--numerics", "plain"}
			if js {
				args = append(args, "--json")
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 1 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			want := c.want
			if js {
				want = []string{c.key}
			}
			for _, w := range want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		}
		restore()
	}
}
