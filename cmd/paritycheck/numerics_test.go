package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/llamacpp"
)

// numModels returns the embedded stories260K ("" = the default) and synth
// tiny-qwen2 models with Q8_0 and Q4_K weights.
func numModels(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	ms := map[string]string{"stories260K": ""}
	for _, dt := range []string{"q8_0", "q4_k"} {
		f := filepath.Join(dir, "tiny-qwen2-"+dt+".gguf")
		if code, _, stderr := pctRun("synth", "--preset", "tiny-qwen2", "--dtype", dt, "--seed", "1", "--out", f); code != 0 {
			t.Fatalf("synth %s: %s", dt, stderr)
		}
		ms["tiny-qwen2@"+dt] = f
	}
	return ms
}

// wantNumerics checks a "numerics" object: every metallic path declares
// profile, llamacpp its own.
func wantNumerics(t *testing.T, what string, v any, profile string) {
	t.Helper()
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		t.Fatalf("%s: numerics %v, want one entry per path", what, v)
	}
	for p, n := range m {
		want := profile
		if p == "llamacpp" {
			want = "llamacpp"
		}
		if n != want {
			t.Errorf("%s: numerics[%s] = %v, want %s", what, p, n, want)
		}
	}
}

// TestReportBothProfiles: the default report passes under both profiles
// on the embedded stories260K and on tiny-qwen2 Q8_0 and Q4_K models
// (with llama.cpp as the third path where it is installed), and its JSON
// and its headers name each path's profile.
func TestReportBothProfiles(t *testing.T) {
	ms := numModels(t)
	for _, name := range []string{"stories260K", "tiny-qwen2@q8_0", "tiny-qwen2@q4_k"} {
		for _, prof := range []string{"plain", "ggml-cpu"} {
			t.Run(name+"/"+prof, func(t *testing.T) {
				args := []string{"--numerics", prof}
				if ms[name] != "" {
					args = append([]string{ms[name]}, args...)
				}
				v := pctJSON(t, 0, args...)
				wantNumerics(t, "report", v["numerics"], prof)
				steps, _ := v["steps"].(map[string]any)
				wantNumerics(t, "report.steps", steps["numerics"], prof)
				if tk, ok := v["tokens"].(map[string]any); ok {
					wantNumerics(t, "report.tokens", tk["numerics"], prof)
				}
				code, stdout, stderr := pctRun(args...)
				if code != 0 {
					t.Fatalf("text report: exit %d\n%s", code, stderr)
				}
				if want := fmt.Sprintf("numerics: reference %s, dsl %s", prof, prof); strings.Count(stdout, want) < 2 {
					t.Errorf("the step and token headers do not both name the profile (%q):\n%s", want, stdout)
				}
				if llamacpp.Available() == nil && prof == "plain" && !strings.Contains(stdout, "the reference runs the plain numerics profile") {
					t.Errorf("the llama.cpp line still promises bit identity under plain:\n%s", stdout)
				}
			})
		}
	}
}

// TestNumericsCommands: generate, logits, bench, steps, tokens and bisect
// take --numerics and name the profile in their JSON and text; under
// plain both paths still give stories260K's documented 48 greedy tokens.
func TestNumericsCommands(t *testing.T) {
	for _, path := range []string{"reference", "dsl"} {
		code, stdout, stderr := pctRun("generate", "--tokens", "1", "-n", "48", "--temp", "0", "--path", path, "--numerics", "plain", "--json")
		var got struct {
			Tokens   []int32 `json:"tokens"`
			Numerics string  `json:"numerics"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
			t.Fatalf("generate --path %s: exit %d, %v\n%s", path, code, err, stderr)
		}
		if got.Numerics != "plain" || !slices.Equal(got.Tokens, storiesGolden) {
			t.Errorf("generate --path %s --numerics plain: numerics %q, tokens\n got %v\nwant %v", path, got.Numerics, got.Tokens, storiesGolden)
		}
		if !strings.Contains(stderr, "numerics plain") {
			t.Errorf("generate's stderr does not name the profile: %q", stderr)
		}
	}
	for _, c := range []struct {
		args []string
		key  string
		want any
	}{
		{[]string{"generate", "--tokens", "1", "-n", "2"}, "numerics", "ggml-cpu"},
		{[]string{"logits", "--tokens", "1,2", "--numerics", "plain"}, "numerics", "plain"},
		{[]string{"bench", "--prompt-len", "4", "-n", "2", "--reps", "1", "--numerics", "plain"}, "numerics", "plain"},
		{[]string{"bench", "--prompt-len", "4", "-n", "2", "--reps", "1", "--path", "dsl"}, "numerics", "ggml-cpu"},
	} {
		if v := pctJSON(t, 0, c.args...); v[c.key] != c.want {
			t.Errorf("%v: %s = %v, want %v", c.args, c.key, v[c.key], c.want)
		}
	}
	for _, c := range []struct{ cmd, header string }{
		{"steps", "numerics: reference plain, dsl plain"},
		{"tokens", "numerics: reference plain, dsl plain"},
		{"bisect", "numerics: reference plain, dsl plain"},
		{"logits", "numerics: reference plain"},
		{"bench", "numerics plain"},
	} {
		args := []string{c.cmd, "--numerics", "plain", "--paths", "reference,dsl"}
		switch c.cmd {
		case "logits":
			args = []string{c.cmd, "--numerics", "plain", "--tokens", "1,2"}
		case "bench":
			args = []string{c.cmd, "--numerics", "plain", "--prompt-len", "4", "-n", "2", "--reps", "1"}
		}
		code, stdout, stderr := pctRun(args...)
		if code != 0 || !strings.Contains(stdout, c.header) {
			t.Errorf("%v: exit %d, stdout lacks %q:\n%s%s", args, code, c.header, stdout, stderr)
		}
		if c.cmd == "steps" || c.cmd == "tokens" || c.cmd == "bisect" {
			wantNumerics(t, c.cmd, pctJSON(t, 0, args...)["numerics"], "plain")
		}
	}
}

// TestNumericsBadInput: an unknown profile, a profile for llamacpp alone
// (it does not apply), and --allow-numerics-change without --numerics are
// usage errors (exit 2) that name the problem.
func TestNumericsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--numerics", "fast"}, `"fast"`},
		{[]string{"steps", "--numerics", "ggml"}, `"ggml"`},
		{[]string{"generate", "--numerics", "x", "--tokens", "1"}, `"x"`},
		{[]string{"generate", "--path", "llamacpp", "--numerics", "plain", "--tokens", "1"}, "does not apply"},
		{[]string{"tokens", "--paths", "llamacpp", "--numerics", "ggml-cpu"}, "does not apply"},
		{[]string{"golden", "record", "--out", filepath.Join(t.TempDir(), "g"), "--paths", "llamacpp", "--numerics", "plain"}, "does not apply"},
		{[]string{"golden", "verify", goldenRepo(t, "testdata/golden/stories260K.golden.gguf"), "--allow-numerics-change"}, "needs --numerics"},
	} {
		code, _, stderr := pctRun(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, code, stderr, c.want)
		}
	}
}

// TestGoldenNumerics: a golden records its profile; verify runs it under
// that profile, refuses another (exit 2, both named) unless told
// --allow-numerics-change; the committed goldens, written before profiles,
// read as ggml-cpu.
func TestGoldenNumerics(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plain.golden.gguf")
	v := pctJSON(t, 0, "golden", "record", "--out", out, "--tokens", "1,403,407", "-n", "4", "--paths", "reference,dsl", "--numerics", "plain")
	if v["numerics"] != "plain" {
		t.Errorf("record: numerics %v, want plain", v["numerics"])
	}
	v = pctJSON(t, 0, "golden", "verify", out)
	if v["numerics"] != "plain" || v["recorded_numerics"] != "plain" || v["pass"] != true {
		t.Errorf("verify: numerics %v, recorded %v, pass %v", v["numerics"], v["recorded_numerics"], v["pass"])
	}
	code, stdout, stderr := pctRun("golden", "verify", out)
	if code != 0 || !strings.Contains(stdout, "numerics plain") {
		t.Errorf("verify text: exit %d, lacks the profile:\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = pctRun("golden", "verify", out, "--numerics", "ggml-cpu")
	if code != 2 || !strings.Contains(stderr, "recorded under numerics plain") || !strings.Contains(stderr, "ggml-cpu") {
		t.Errorf("verify under another profile: exit %d, stderr %q; want 2 naming both", code, stderr)
	}
	code, stdout, stderr = pctRun("golden", "verify", out, "--numerics", "ggml-cpu", "--allow-numerics-change", "--json")
	var rep struct {
		Numerics, Recorded string
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); code == 2 || err != nil {
		t.Fatalf("verify --allow-numerics-change: exit %d, %v\n%s", code, err, stderr)
	}
	rep.Numerics, _ = raw["numerics"].(string)
	rep.Recorded, _ = raw["recorded_numerics"].(string)
	if rep.Numerics != "ggml-cpu" || rep.Recorded != "plain" {
		t.Errorf("verify --allow-numerics-change: ran %q, recorded %q; want ggml-cpu and plain", rep.Numerics, rep.Recorded)
	}
	committed := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	if v := pctJSON(t, 0, "golden", "verify", committed); v["recorded_numerics"] != "ggml-cpu" || v["numerics"] != "ggml-cpu" {
		t.Errorf("committed golden: recorded %v, ran %v; want both ggml-cpu", v["recorded_numerics"], v["numerics"])
	}
	if code, _, stderr := pctRun("golden", "verify", committed, "--numerics", "plain"); code != 2 || !strings.Contains(stderr, "recorded under numerics ggml-cpu") {
		t.Errorf("committed golden under plain: exit %d, stderr %q; want 2", code, stderr)
	}
}

// TestFidelityPlain: under plain the reference promises no bit identity
// with llama.cpp, so differences are reported with exit 0 and the reason.
func TestFidelityPlain(t *testing.T) {
	pctNeedLlamacpp(t)
	v := pctJSON(t, 0, "fidelity", "--numerics", "plain")
	p, _ := v["promise"].(map[string]any)
	if p == nil || p["bit_identical"] != false || !strings.Contains(fmt.Sprint(p["why"]), "plain") {
		t.Errorf("promise %v, want none because of the plain profile", v["promise"])
	}
	if n, _ := v["numerics"].(map[string]any); n["reference"] != "plain" || n["llamacpp"] != "llamacpp" {
		t.Errorf("numerics %v", v["numerics"])
	}
	if v["identical"] != false {
		t.Error("the plain reference is bit-identical to llama.cpp: the profile did not apply")
	}
	v = pctJSON(t, 0, "fidelity")
	if p, _ := v["promise"].(map[string]any); p == nil {
		t.Errorf("fidelity JSON lacks the promise")
	} else if cv, err := llamacpp.CPUVariant(); err == nil && llamacpp.AVX512Variant(cv) && p["bit_identical"] != true {
		t.Errorf("ggml-cpu on libggml-cpu-%s: promise %v, want bit identity", cv, p)
	}
}
