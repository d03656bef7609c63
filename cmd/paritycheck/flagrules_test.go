package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsThatDoNotApply: a flag the user set that would change nothing
// in the run is refused (exit 2, naming the flag), in every command that
// takes it, before any work.
func TestFlagsThatDoNotApply(t *testing.T) {
	m := genStories(t)
	golden := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	out := filepath.Join(t.TempDir(), "never.golden.gguf")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"spec, generate on reference", []string{"generate", m, "--tokens", "1", "-n", "1", "--spec", "s.json"}, "--spec does not apply to this run"},
		{"spec, logits on reference", []string{"logits", m, "--tokens", "1", "--spec", "s.json"}, "--spec does not apply to this run"},
		{"spec, bench on reference", []string{"bench", m, "--reps", "1", "--spec", "s.json"}, "--spec does not apply to this run"},
		{"spec, steps without dsl", []string{"steps", m, "--paths", "reference", "--spec", "s.json"}, "--spec does not apply to this run"},
		{"spec, report without dsl", []string{"report", m, "--paths", "reference", "--spec", "s.json"}, "--spec does not apply to this run"},
		{"top-k, greedy generate", []string{"generate", m, "--tokens", "1", "-n", "2", "--top-k", "5"}, "--top-k does not apply to this run: sampling is greedy"},
		{"top-p, greedy generate", []string{"generate", m, "--tokens", "1", "-n", "2", "--top-p", "0.9"}, "--top-p does not apply"},
		{"min-p, greedy tokens", []string{"tokens", m, "--paths", "reference,dsl", "--min-p", "0.1"}, "--min-p does not apply"},
		{"seed, greedy tokens", []string{"tokens", m, "--paths", "reference,dsl", "--seed", "3"}, "--seed does not apply"},
		{"seed, greedy golden record", []string{"golden", "record", m, "--out", out, "-n", "2", "--seed", "3"}, "--seed does not apply"},
		{"temp, nothing generated", []string{"generate", m, "--tokens", "1", "-n", "0", "--temp", "0.5"}, "--temp does not apply to this run: no tokens are generated"},
		{"temp, golden record -n 0", []string{"golden", "record", m, "--out", out, "-n", "0", "--temp", "0.5"}, "--temp does not apply"},
		{"ignore-eos, nothing generated", []string{"generate", m, "--tokens", "1", "-n", "0", "--ignore-eos"}, "--ignore-eos does not apply"},
		{"repeat-last-n without a penalty", []string{"generate", m, "--tokens", "1", "-n", "2", "--repeat-last-n", "8"}, "--repeat-last-n does not apply"},
		{"tie-eps, report of one path", []string{"report", m, "--paths", "reference", "--tie-eps", "0.1"}, "--tie-eps does not apply"},
		{"temp, report of one path", []string{"report", m, "--paths", "reference", "--temp", "0.7"}, "--temp does not apply"},
		{"perturb-seed without --perturb", []string{"steps", m, "--paths", "reference", "--perturb-seed", "5"}, "--perturb-seed does not apply"},
		{"explain with --json", []string{"steps", m, "--paths", "reference", "--explain", "--json"}, "--explain does not apply"},
		{"all with --json", []string{"report", m, "--paths", "reference,dsl", "--all", "--json"}, "--all does not apply"},
		{"threads on a GPU backend", []string{"generate", m, "--tokens", "1", "--backend", "cuda", "--threads", "2"}, "--threads does not apply"},
		{"threads, steps on a GPU backend", []string{"steps", m, "--paths", "reference,dsl", "--backend", "metal", "--threads", "2"}, "--threads does not apply"},
		{"threads, golden verify on a GPU backend", []string{"golden", "verify", golden, "--backend", "cuda", "--threads", "2"}, "--threads does not apply"},
		{"threads, ops on a GPU backend", []string{"ops", "--backend", "metal", "--threads", "2"}, "--threads does not apply"},
		{"prompt and tokens, generate", []string{"generate", m, "--prompt", "a", "--tokens", "1"}, "--prompt and --tokens are exclusive"},
		{"prompt and tokens, steps", []string{"steps", m, "--prompt", "a", "--tokens", "1"}, "--prompt and --tokens are exclusive"},
		{"prompt and tokens, golden record", []string{"golden", "record", m, "--out", out, "--prompt", "a", "--tokens", "1"}, "--prompt and --tokens are exclusive"},
	} {
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
}

// TestFlagsThatApply: the same flags where they do something run.
func TestFlagsThatApply(t *testing.T) {
	m := genStories(t)
	for _, args := range [][]string{
		{"generate", m, "--tokens", "1", "-n", "3", "--temp", "0.8", "--top-k", "5", "--top-p", "0.9", "--min-p", "0.01", "--seed", "3",
			"--repeat-penalty", "1.1", "--repeat-last-n", "8", "--ignore-eos", "--threads", "1"},
		{"generate", m, "--tokens", "1", "-n", "2", "--path", "dsl", "--spec", "../../dsl/specs/llama.json", "--temp", "0"},
		{"logits", m, "--tokens", "1", "--path", "dsl", "--spec", "../../dsl/specs/llama.json", "--threads", "0"},
		{"tokens", m, "--paths", "reference,dsl", "-n", "4", "--temp", "0.7", "--seed", "1", "--tie-eps", "0.01", "--json"},
	} {
		if code, _, stderr := genRun(args...); code != 0 {
			t.Errorf("%v: exit %d, stderr %q", args[:1], code, stderr)
		}
	}
}

// TestThreadsOneRule: --threads is read the same way by every command that
// takes it: a negative or absurd count is exit 2 with the same words, 0
// means all cores.
func TestThreadsOneRule(t *testing.T) {
	m := genStories(t)
	golden := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	out := filepath.Join(t.TempDir(), "never.golden.gguf")
	for _, cmd := range [][]string{
		{"generate", m, "--tokens", "1"}, {"logits", m, "--tokens", "1"}, {"bench", m},
		{"report", m}, {"steps", m}, {"tokens", m}, {"bisect", m}, {"fidelity", m},
		{"golden", "record", m, "--out", out}, {"golden", "verify", golden}, {"ops"},
	} {
		for _, bad := range []string{"-1", "1025", "many"} {
			code, _, stderr := genRun(append(cmd, "--threads", bad)...)
			if want := "want 0 (all cores: GOMAXPROCS"; code != 2 || !strings.Contains(stderr, want) {
				t.Errorf("%s --threads %s: exit %d, stderr %q; want exit 2 saying %q", strings.Join(cmd[:1], " "), bad, code, stderr, want)
			}
		}
	}
	if code, _, stderr := genRun("generate", m, "--tokens", "1", "-n", "1", "--threads", "0"); code != 0 {
		t.Errorf("--threads 0: exit %d, stderr %q", code, stderr)
	}
}

// TestEmptyTokensOneRule: --tokens "" is an error in every command that
// takes --tokens (it never silently means "start from BOS").
func TestEmptyTokensOneRule(t *testing.T) {
	m := genStories(t)
	out := filepath.Join(t.TempDir(), "never.golden.gguf")
	for _, cmd := range [][]string{
		{"generate", m, "-n", "1"}, {"logits", m}, {"golden", "record", m, "--out", out},
		{"report", m}, {"steps", m}, {"tokens", m}, {"bisect", m}, {"fidelity", m},
	} {
		for _, empty := range []string{"", " ", "1,,2", "1,"} {
			code, stdout, stderr := genRun(append(cmd, "--tokens", empty)...)
			if code != 2 || !strings.Contains(stderr, "--tokens") && !strings.Contains(stderr, "-tokens") {
				t.Errorf("%s --tokens %q: exit %d, stderr %q; want exit 2 about --tokens", cmd[0], empty, code, stderr)
			}
			if stdout != "" {
				t.Errorf("%s --tokens %q: stdout %q", cmd[0], empty, stdout)
			}
		}
	}
}

// TestLaterFlagRules: the flags of issues 11 and 12 (--numerics,
// --allow-numerics-change, --kv, --flash-attn) are judged by the same
// mechanism, checkScope over the run's scope: each case sets one flag on
// a FlagSet of the real command flags and checks the verdict.
func TestLaterFlagRules(t *testing.T) {
	refDSL := []string{"reference", "dsl"}
	for _, tc := range []struct {
		name  string
		flag  string
		value string
		scope runScope
		want  string // "" when the flag applies
	}{
		{"numerics, reference and dsl", "numerics", "plain", runScope{Paths: refDSL, Numerics: "plain"}, ""},
		{"numerics, reference beside llamacpp", "numerics", "plain", runScope{Paths: []string{"reference", "llamacpp"}, Numerics: "plain"}, ""},
		{"numerics, llamacpp alone", "numerics", "plain", runScope{Paths: []string{"llamacpp"}, Numerics: "plain"}, "--numerics does not apply to this run: llamacpp computes with llama.cpp's own kernels"},
		{"allow-numerics-change with --numerics", "allow-numerics-change", "true", runScope{Paths: []string{"reference"}, Numerics: "plain"}, ""},
		{"allow-numerics-change alone", "allow-numerics-change", "true", runScope{Paths: []string{"reference"}}, "needs --numerics"},
		{"kv where a path runs", "kv", "f16", runScope{Paths: []string{"dsl"}}, ""},
		{"kv where none runs", "kv", "f16", runScope{}, "--kv does not apply to this run"},
		{"flash on, reference under ggml-cpu", "flash-attn", "on", runScope{Paths: []string{"reference", "llamacpp"}, FlashAttn: true}, ""},
		{"flash on, dsl", "flash-attn", "on", runScope{Paths: refDSL, FlashAttn: true}, "does not apply to the dsl path"},
		{"flash on, reference under plain", "flash-attn", "on", runScope{Paths: []string{"reference"}, Numerics: "plain", FlashAttn: true}, "does not apply to the reference path under plain numerics"},
		{"flash on, reference on cuda (plain by default)", "flash-attn", "on", runScope{Paths: []string{"reference"}, Backend: "cuda", FlashAttn: true}, "under plain numerics"},
		{"flash on, llamacpp on cuda's run", "flash-attn", "on", runScope{Paths: []string{"llamacpp"}, Backend: "cuda", FlashAttn: true}, ""},
		{"flash off, some path has a flash kernel", "flash-attn", "off", runScope{Paths: refDSL}, ""},
		{"flash off, no path has one", "flash-attn", "off", runScope{Paths: refDSL, Numerics: "plain"}, "--flash-attn does not apply to this run: no path of this run has a flash-attention kernel"},
		{"threads, cuda", "threads", "2", runScope{Paths: refDSL, Backend: "cuda"}, "--threads does not apply"},
		{"threads, cuda beside llamacpp", "threads", "2", runScope{Paths: []string{"reference", "llamacpp"}, Backend: "cuda"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("test", "test", io.Discard)
			var r pcRun
			pcFlags(fs, &r, false)
			fs.Bool("allow-numerics-change", false, "")
			if err := fs.Set(tc.flag, tc.value); err != nil {
				t.Fatal(err)
			}
			err := checkScope(fs, tc.scope)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkScope: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkScope: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestLaterFlagsThatDoNotApply: the CLI refuses the flags of issues 11 and
// 12 where they change nothing, in every command that takes them (exit 2,
// nothing on stdout).
func TestLaterFlagsThatDoNotApply(t *testing.T) {
	m := genStories(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"flash off, steps under plain", []string{"steps", m, "--paths", "reference,dsl", "--numerics", "plain", "--flash-attn", "off"}, "--flash-attn does not apply"},
		{"flash off, generate on dsl", []string{"generate", m, "--path", "dsl", "--tokens", "1", "-n", "1", "--flash-attn", "off"}, "--flash-attn does not apply"},
		{"flash off, logits on cuda", []string{"logits", m, "--backend", "cuda", "--tokens", "1", "--flash-attn", "off"}, "--flash-attn does not apply"},
		{"numerics, bench of llamacpp", []string{"bench", m, "--path", "llamacpp", "--numerics", "ggml-cpu"}, "--numerics does not apply"},
		{"numerics, fidelity of llamacpp", []string{"fidelity", m, "--paths", "llamacpp,llamacpp", "--numerics", "plain"}, "--numerics does not apply"},
		{"threads, bench on cuda", []string{"bench", m, "--backend", "cuda", "--threads", "2"}, "--threads does not apply"},
		{"threads, report on cuda", []string{"report", m, "--paths", "reference,dsl", "--backend", "cuda", "--threads", "1"}, "--threads does not apply"},
	} {
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
}

// TestLaterFlagsThatApply: the same flags where they do something run.
func TestLaterFlagsThatApply(t *testing.T) {
	m := genStories(t)
	for _, args := range [][]string{
		{"generate", m, "--tokens", "1", "-n", "2", "--flash-attn", "off", "--kv", "f16", "--numerics", "ggml-cpu"},
		{"logits", m, "--tokens", "1,403", "--path", "dsl", "--kv", "f16", "--numerics", "plain"},
		{"steps", m, "--paths", "reference,dsl", "--flash-attn", "off", "--json"},
		{"bench", m, "--prompt-len", "2", "-n", "2", "--reps", "1", "--kv", "f16", "--flash-attn", "on", "--threads", "1"},
	} {
		if code, _, stderr := genRun(args...); code != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
