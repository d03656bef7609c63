package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/fakegpu"
	"github.com/metallic-go/metallic/internal/testenv"
)

// The fake GPU backend ("fake": the cpu's kernels, plain numerics only,
// cuda's Describe and SetProfiling/Profile) stands in for cuda in these
// tests, so `reference@cpu,reference@fake` takes every code path that
// `reference@cpu,reference@cuda` takes on the GPU machine.
func init() { fakegpu.Register("fake") }

// xbRows returns the distinct (a, b) pairs of a steps object's rows.
func xbRows(t *testing.T, v map[string]any) map[[2]string]int {
	t.Helper()
	rows, _ := v["rows"].([]any)
	out := map[[2]string]int{}
	for _, r := range rows {
		m := r.(map[string]any)
		out[[2]string{m["a"].(string), m["b"].(string)}]++
		if m["verdict"] == "FAIL" {
			t.Errorf("row %v fails", m)
		}
	}
	return out
}

// TestStepsPathAtBackend: steps over the same path on two backends keys
// rows, numerics and backends by PATH@BACKEND, judges each against its
// local oracle and the pairs by the no-worse rule, and passes.
func TestStepsPathAtBackend(t *testing.T) {
	m := genStories(t)
	v := pctJSON(t, 0, "steps", m, "--paths", "reference@cpu,reference@fake,dsl@fake", "--decode", "2")
	pctCheckSteps(t, "steps", v)
	if got := v["paths"]; !slices.Equal(anyStrings(got), []string{"reference@cpu", "reference@fake", "dsl@fake"}) {
		t.Errorf("paths %v", got)
	}
	pairs := xbRows(t, v)
	for _, p := range [][2]string{{"reference@cpu", "local"}, {"reference@fake", "local"}, {"dsl@fake", "local"},
		{"reference@fake", "reference@cpu"}, {"dsl@fake", "reference@cpu"}} {
		if pairs[p] == 0 {
			t.Errorf("no rows %s vs %s (have %v)", p[0], p[1], pairs)
		}
	}
	num, _ := v["numerics"].(map[string]any)
	if num["reference@cpu"] != "ggml-cpu" || num["reference@fake"] != "plain" {
		t.Errorf("numerics %v: want each backend's default (ggml-cpu on cpu, plain elsewhere)", num)
	}
	be, _ := v["backends"].(map[string]any)
	for _, n := range []string{"reference@cpu", "reference@fake", "dsl@fake"} {
		b, _ := be[n].(map[string]any)
		if b == nil || b["provenance"] == "" {
			t.Errorf("backends[%s] = %v, want the backend and its provenance line", n, be[n])
		}
	}
	if b := be["reference@cpu"].(map[string]any); b["backend"] != "cpu" || !strings.HasPrefix(b["provenance"].(string), "cpu: ") {
		t.Errorf("backends[reference@cpu] = %v", b)
	}
	// The text table's header names every path's backend.
	code, stdout, stderr := pctRun("steps", m, "--paths", "reference@cpu,reference@fake", "--numerics", "plain")
	if code != 0 || !strings.Contains(stdout, "backend of reference@fake: fake: ") || !strings.Contains(stdout, "backend of reference@cpu: cpu: ") {
		t.Errorf("exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
	// One backend for every path: the names stay bare, as before.
	v = pctJSON(t, 0, "steps", m, "--paths", "reference,dsl", "--backend", "fake")
	if got := anyStrings(v["paths"]); !slices.Equal(got, []string{"reference", "dsl"}) {
		t.Errorf("paths %v, want bare names when every path runs on one backend", got)
	}
	if b, _ := v["backends"].(map[string]any)["dsl"].(map[string]any); b["backend"] != "fake" {
		t.Errorf("backends %v", v["backends"])
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestTokensPathAtBackend: streams are keyed by PATH@BACKEND; the cpu and
// fake reference stream stories260K's golden ids.
func TestTokensPathAtBackend(t *testing.T) {
	v := pctJSON(t, 0, "tokens", genStories(t), "--paths", "reference@cpu,reference@fake", "--tokens", "1", "-n", "16")
	st, _ := v["streams"].(map[string]any)
	want := testenv.StoriesGreedy()[:16]
	for _, n := range []string{"reference@cpu", "reference@fake"} {
		var got []int32
		for _, x := range st[n].([]any) {
			got = append(got, int32(x.(float64)))
		}
		if !slices.Equal(got, want) {
			t.Errorf("streams[%s] = %v, want %v", n, got, want)
		}
	}
	if v["a"] != "reference@cpu" || v["b"] != "reference@fake" || v["first_divergence"] != -1.0 {
		t.Errorf("a %v b %v first_divergence %v", v["a"], v["b"], v["first_divergence"])
	}
}

// TestBisectPathAtBackend: a perturbation aimed at one path on one backend
// is named by bisect, with --perturb PATH@BACKEND:… and with a bare name
// resolved by --backend.
func TestBisectPathAtBackend(t *testing.T) {
	m := genStories(t)
	for _, args := range [][]string{
		{"--paths", "reference@fake,dsl@fake", "--perturb", "dsl@fake:blk.3.ffn_act=1e-3"},
		{"--paths", "reference,dsl", "--backend", "fake", "--perturb", "dsl:blk.3.ffn_act=1e-3"},
		{"--paths", "reference@cpu,dsl@fake,dsl@cpu", "--perturb", "dsl@fake:blk.3.ffn_act=1e-3", "--numerics", "plain"},
	} {
		v := pctJSON(t, 1, append([]string{"bisect", m}, args...)...)
		if v["checkpoint"] != "blk.3.ffn_act" || v["layer"] != 3.0 || v["op"] != "swiglu" {
			t.Errorf("%v: checkpoint %v layer %v op %v", args, v["checkpoint"], v["layer"], v["op"])
		}
		if p := v["path"].(string); p != "dsl" && p != "dsl@fake" {
			t.Errorf("%v: path %q, want the perturbed dsl on fake", args, p)
		}
	}
}

// TestFidelityAcrossBackendsCLI: fidelity of the same path on two backends
// judges every op against its oracle (exit 0, per-op table with NMSE and
// bound); a perturbed op of the first path is named, exit 1.
func TestFidelityAcrossBackendsCLI(t *testing.T) {
	m := genStories(t)
	v := pctJSON(t, 0, "fidelity", m, "--paths", "reference@fake,reference@cpu", "--decode", "1")
	if v["judged"] != true || v["first_failure"] != nil || v["a"] != "reference@fake" || v["b"] != "reference@cpu" {
		t.Errorf("judged %v first_failure %v a %v b %v", v["judged"], v["first_failure"], v["a"], v["b"])
	}
	if pr, _ := v["promise"].(map[string]any); pr["bit_identical"] != false {
		t.Errorf("promise %v: two backends promise no bit identity", pr)
	}
	rows, _ := v["rows"].([]any)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	pctKeys(t, "fidelity row", rows[0], "checkpoint", "op", "max_ulp", "nmse", "nmse_oracle", "bound", "verdict")
	v = pctJSON(t, 1, "fidelity", m, "--paths", "reference@fake,reference@cpu", "--perturb", "reference@fake:blk.2.ffn_up=1e-3")
	if ff, _ := v["first_failure"].(map[string]any); ff["checkpoint"] != "blk.2.ffn_up" {
		t.Errorf("first_failure %v, want blk.2.ffn_up", ff)
	}
	code, stdout, _ := pctRun("fidelity", m, "--paths", "reference@fake,reference@cpu", "--perturb", "reference@fake:blk.2.ffn_up=1e-3")
	if code != 1 || !strings.Contains(stdout, "FIRST OP OUT OF BOUNDS: blk.2.ffn_up") || !strings.Contains(stdout, "a = reference@fake (its ops checked), b = reference@cpu (the inputs)") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

// TestGoldenPathAtBackend: goldens of paths on another backend verify
// there; a golden of paths on one backend names them bare with that
// backend, one spanning two records PATH@BACKEND.
func TestGoldenPathAtBackend(t *testing.T) {
	m := genStories(t)
	dir := t.TempDir()
	for _, act := range []string{"f32", "f16"} {
		g := filepath.Join(dir, act+".golden.gguf")
		v := pctJSON(t, 0, "golden", "record", m, "--out", g, "--paths", "reference@fake,dsl@fake", "--tokens", "1", "-n", "48", "--act", act)
		if got := anyStrings(v["paths"]); !slices.Equal(got, []string{"reference", "dsl"}) {
			t.Errorf("%s: paths %v", act, got)
		}
		st, _ := v["streams"].(map[string]any)
		for _, n := range []string{"reference", "dsl"} {
			var got []int32
			for _, x := range st[n].([]any) {
				got = append(got, int32(x.(float64)))
			}
			if !slices.Equal(got, testenv.StoriesGreedy()) {
				t.Errorf("%s %s: %v, want stories260K's 48 golden ids", act, n, got)
			}
		}
		if b, _ := v["backends"].(map[string]any)["dsl"].(map[string]any); b["backend"] != "fake" {
			t.Errorf("%s: backends %v", act, v["backends"])
		}
		if v := pctJSON(t, 0, "golden", "verify", g, "--model", m); v["pass"] != true {
			t.Errorf("%s: verify %v", act, v["first_failure"])
		}
	}
	g := filepath.Join(dir, "mixed.golden.gguf")
	v := pctJSON(t, 0, "golden", "record", m, "--out", g, "--paths", "reference@cpu,reference@fake", "--numerics", "plain", "-n", "4")
	if got := anyStrings(v["paths"]); !slices.Equal(got, []string{"reference@cpu", "reference@fake"}) {
		t.Errorf("mixed paths %v", got)
	}
	v = pctJSON(t, 1, "golden", "verify", g, "--model", m, "--perturb", "reference@fake:blk.1.ffn_act=1e-2")
	if f, _ := v["first_failure"].(map[string]any); f["path"] != "reference@fake" || f["checkpoint"] != "blk.1.ffn_act" {
		t.Errorf("first_failure %v", f)
	}
	code, _, stderr := pctRun("golden", "record", m, "--out", filepath.Join(dir, "x.gguf"), "--paths", "reference@cpu,reference@fake")
	if code != 2 || !strings.Contains(stderr, "--numerics plain") {
		t.Errorf("mixed numerics: exit %d, stderr %q", code, stderr)
	}
}

// TestSinglePathAtBackend: --path PATH@BACKEND in generate, logits and
// bench; bench --profile on a backend with its own kernel timer.
func TestSinglePathAtBackend(t *testing.T) {
	m := genStories(t)
	v := pctJSON(t, 0, "generate", m, "--path", "dsl@fake", "--tokens", "1", "-n", "8")
	if v["backend"] != "fake" || !strings.HasPrefix(v["provenance"].(string), "fake: ") || v["numerics"] != "plain" {
		t.Errorf("backend %v provenance %v numerics %v", v["backend"], v["provenance"], v["numerics"])
	}
	v = pctJSON(t, 0, "logits", m, "--path", "reference@fake", "--tokens", "1,403")
	if v["backend"] != "fake" {
		t.Errorf("logits backend %v", v["backend"])
	}
	v = pctJSON(t, 0, "bench", m, "--path", "dsl@fake", "--profile", "--prompt-len", "4", "-n", "3", "--reps", "1")
	prof, _ := v["profile"].(map[string]any)
	pctKeys(t, "bench profile", prof, "path", "backend", "provenance", "timer", "tokens", "token_ms", "kernel_ms", "gap_ms", "gap_share", "gap", "bytes_per_token", "gb_s", "kernels")
	if prof["timer"] != "gpu events" || prof["path"] != "dsl@fake" {
		t.Errorf("profile timer %v path %v", prof["timer"], prof["path"])
	}
	ks, _ := prof["kernels"].([]any)
	if len(ks) == 0 {
		t.Fatal("no kernels")
	}
	pctKeys(t, "profile kernel", ks[0], "kernel", "op", "calls_per_token", "ms_per_token", "share", "bytes_per_token", "gb_s")
	v = pctJSON(t, 0, "bench", m, "--profile", "--prompt-len", "4", "-n", "3", "--reps", "1", "--threads", "1")
	if prof, _ := v["profile"].(map[string]any); prof["timer"] != "wall time per dispatch" || prof["path"] != "reference@cpu" {
		t.Errorf("cpu profile %v", prof)
	}
	code, stdout, _ := pctRun("bench", m, "--profile", "--prompt-len", "4", "-n", "3", "--reps", "1", "--threads", "1")
	if code != 0 || !strings.Contains(stdout, "per-kernel profile of reference@cpu decode") || !strings.Contains(stdout, "gap: host work") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

// TestPathAtBackendRefused: malformed or contradictory PATH@BACKEND
// names, and flags that do not apply to where the paths run, are exit 2
// with the reason.
func TestPathAtBackendRefused(t *testing.T) {
	m := genStories(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"steps", m, "--paths", "reference@cpu,reference"}, "path reference@cpu given twice"},
		{[]string{"steps", m, "--paths", "reference@,dsl"}, "empty backend"},
		{[]string{"steps", m, "--paths", "reference@cpu@fake"}, "more than one @"},
		{[]string{"steps", m, "--paths", "reference,llamacpp@fake"}, "llamacpp runs on ggml's CPU backend only"},
		{[]string{"steps", m, "--paths", "reference@nosuch,dsl"}, `unknown backend "nosuch"`},
		{[]string{"steps", m, "--paths", "reference@cpu,reference@fake", "--backend", "fake"}, "--backend does not apply"},
		{[]string{"steps", m, "--paths", "reference@fake,dsl@fake", "--threads", "2"}, "--threads does not apply"},
		{[]string{"steps", m, "--paths", "reference@cpu,reference@fake", "--numerics", "ggml-cpu"}, "reference@fake"},
		{[]string{"steps", m, "--paths", "reference@cpu,dsl@fake", "--perturb", "dsl:blk.0.ffn_act=1e-3"}, `path "dsl@cpu" is not being run`},
		{[]string{"generate", m, "--path", "dsl@", "--tokens", "1"}, "empty backend"},
		{[]string{"generate", m, "--path", "dsl@fake", "--backend", "cpu", "--tokens", "1"}, "--backend does not apply"},
		{[]string{"bench", m, "--path", "llamacpp", "--profile"}, "--profile does not apply"},
		{[]string{"fidelity", m, "--paths", "reference@fake,reference@cpu", "--perturb", "reference@cpu:blk.0.ffn_act=1e-3"}, "fidelity perturbs the first path (reference@fake) only"},
	} {
		code, _, stderr := pctRun(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
	// Allowed: --threads when some path runs on the cpu.
	if code, _, stderr := pctRun("steps", m, "--paths", "reference@cpu,reference@fake", "--threads", "2", "--numerics", "plain"); code != 0 {
		t.Errorf("--threads with a cpu path: exit %d, stderr %s", code, stderr)
	}
}
