package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
)

// pctRun runs paritycheck and returns exit code, stdout and stderr.
func pctRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// pctJSON runs a --json command, checks the exit code and decodes stdout.
func pctJSON(t *testing.T, wantCode int, args ...string) map[string]any {
	t.Helper()
	code, stdout, stderr := pctRun(append(args, "--json")...)
	if code != wantCode {
		t.Fatalf("%v: exit %d, want %d; stderr:\n%s", args, code, wantCode, stderr)
	}
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: stdout is not a JSON object: %v\n%s", args, err, stdout)
	}
	if dec.More() {
		t.Fatalf("%v: more than one JSON value on stdout", args)
	}
	return v
}

// pctKeys fails unless every key is present in obj.
func pctKeys(t *testing.T, what string, obj any, keys ...string) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, not an object", what, obj)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks key %q", what, k)
		}
	}
}

// Row keys of `steps` per DESIGN.md's CLI contract.
var pctRowKeys = []string{"checkpoint", "layer", "a", "b", "max_abs", "mean_abs", "rmse", "nmse", "cos", "max_ulp", "verdict"}

func pctCheckSteps(t *testing.T, what string, v any) {
	t.Helper()
	pctKeys(t, what, v, "rows", "first_failure")
	rows, _ := v.(map[string]any)["rows"].([]any)
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", what)
	}
	for _, r := range rows {
		pctKeys(t, what+" row", r, pctRowKeys...)
	}
}

var pctTokenKeys = []string{"streams", "first_divergence", "class", "kld_mean", "kld_p99", "kld_max", "top1_agreement", "rms_dp"}

func pctNeedLlamacpp(t *testing.T) {
	t.Helper()
	if err := llamacpp.Available(); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("llama.cpp not available: %v", err))
	}
}

// TestDefaultReport: no arguments, the embedded stories260K, every linked
// path; exit 0, the JSON carrying steps and tokens.
func TestDefaultReport(t *testing.T) {
	code, stdout, stderr := pctRun()
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"step parity: llama", "every compared checkpoint passes", "PASS in"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("ANSI escapes written to a non-terminal")
	}
	if llamacpp.Available() == nil {
		v, err := llamacpp.CPUVariant()
		if err != nil {
			t.Fatal(err)
		}
		if want := "llama.cpp CPU backend: libggml-cpu-" + v + " ("; !strings.Contains(stdout, want) {
			t.Errorf("report does not name llama.cpp's CPU backend (%q)", want)
		}
	}
	v := pctJSON(t, 0)
	pctKeys(t, "report", v, "steps", "tokens", "pass")
	pctCheckSteps(t, "report.steps", v["steps"])
	if v["tokens"] != nil {
		pctKeys(t, "report.tokens", v["tokens"], pctTokenKeys...)
	}
	if v["pass"] != true {
		t.Error("pass is not true")
	}
}

// TestCLIFaultLocalization: `steps` exits 1 naming the perturbed checkpoint
// as first_failure and `bisect` names it with its layer and op; REL = 0
// exits 0 for both.
func TestCLIFaultLocalization(t *testing.T) {
	stories := genStories(t)
	dir := t.TempDir()
	qwen2, qwen3 := filepath.Join(dir, "tiny-qwen2.gguf"), filepath.Join(dir, "tiny-qwen3.gguf")
	for _, f := range []string{qwen2, qwen3} {
		preset := strings.TrimSuffix(filepath.Base(f), ".gguf")
		if code, _, stderr := pctRun("synth", "--preset", preset, "--out", f); code != 0 {
			t.Fatalf("synth: %s", stderr)
		}
	}
	for _, c := range []struct {
		file, checkpoint, op string
		layer                int
	}{
		{stories, "embd", "get_rows", -1},
		{stories, "blk.0.k", "mul_mat", 0},
		{stories, "blk.1.q_rope", "rope", 1},
		{stories, "blk.2.attn_out", "attention", 2},
		{stories, "blk.3.ffn_act", "swiglu", 3},
		{stories, "output_norm", "rms_norm", -1},
		{qwen2, "blk.0.v", "mul_mat", 0},
		{qwen2, "blk.1.ffn_inp", "add", 1},
		{qwen2, "logits", "mul_mat", -1},
		{qwen3, "blk.1.q_norm", "rms_norm", 1},
		{qwen3, "blk.0.k_rope", "rope", 0},
		{qwen3, "blk.1.l_out", "add", 1},
	} {
		t.Run(filepath.Base(c.file)+"/"+c.checkpoint, func(t *testing.T) {
			p := "reference:" + c.checkpoint + "=1e-3"
			s := pctJSON(t, 1, "steps", c.file, "--paths", "reference", "--perturb", p)
			pctCheckSteps(t, "steps", s)
			ff, _ := s["first_failure"].(map[string]any)
			if ff == nil || ff["checkpoint"] != c.checkpoint || ff["layer"] != float64(c.layer) {
				t.Errorf("first_failure %v, want %s layer %d", ff, c.checkpoint, c.layer)
			}
			b := pctJSON(t, 1, "bisect", c.file, "--paths", "reference", "--perturb", p)
			pctKeys(t, "bisect", b, "checkpoint", "layer", "op", "evidence")
			if b["checkpoint"] != c.checkpoint || b["layer"] != float64(c.layer) || b["op"] != c.op {
				t.Errorf("bisect %v %v %v, want %s %d %s", b["checkpoint"], b["layer"], b["op"], c.checkpoint, c.layer, c.op)
			}
			if e, _ := b["evidence"].(string); !strings.Contains(e, "nmse") {
				t.Errorf("evidence %q", e)
			}
			p0 := "reference:" + c.checkpoint + "=0"
			if s := pctJSON(t, 0, "steps", c.file, "--paths", "reference", "--perturb", p0); s["first_failure"] != nil {
				t.Errorf("REL=0: first_failure %v", s["first_failure"])
			}
			if b := pctJSON(t, 0, "bisect", c.file, "--paths", "reference", "--perturb", p0); b["checkpoint"] != "" || b["layer"] != -1.0 {
				t.Errorf("REL=0: bisect names %v", b["checkpoint"])
			}
		})
	}
}

func TestTokensJSON(t *testing.T) {
	pctNeedLlamacpp(t)
	v := pctJSON(t, 0, "tokens", "--paths", "reference,llamacpp", "-n", "12", "--temp", "0.8", "--top-k", "20", "--seed", "7")
	pctKeys(t, "tokens", v, pctTokenKeys...)
	st, _ := v["streams"].(map[string]any)
	if len(st) != 2 {
		t.Fatalf("streams %v", st)
	}
	if v["first_divergence"] != -1.0 || v["class"] != "none" {
		t.Errorf("reference vs llamacpp diverge: %v %v", v["first_divergence"], v["class"])
	}
	// A 5% perturbation of llama.cpp's logits shows in the KL statistics.
	v = pctJSON(t, 1, "tokens", "--paths", "reference,llamacpp", "-n", "12", "--perturb", "llamacpp:logits=5e-2")
	if k, _ := v["kld_mean"].(float64); !(k > 0) {
		t.Errorf("perturbed kld_mean %v", v["kld_mean"])
	}
}

func TestNoOracleBisect(t *testing.T) {
	pctNeedLlamacpp(t)
	b := pctJSON(t, 1, "bisect", "--paths", "reference,llamacpp", "--no-oracle", "--perturb", "llamacpp:blk.2.ffn_up=1e-2")
	if b["checkpoint"] != "blk.2.ffn_up" || b["layer"] != 2.0 || b["op"] != "mul_mat" {
		t.Errorf("bisect without oracle: %v", b)
	}
}

func TestOpsJSON(t *testing.T) {
	v := pctJSON(t, 0, "ops", "--backend", "cpu")
	pctKeys(t, "ops", v, "backend", "rows", "pass")
	rows, _ := v["rows"].([]any)
	if len(rows) < 10 {
		t.Fatalf("%d op rows", len(rows))
	}
	for _, r := range rows {
		pctKeys(t, "ops row", r, "op", "shape", "act", "max_abs", "nmse", "pass")
	}
}

func TestExplainAndPlot(t *testing.T) {
	png := filepath.Join(t.TempDir(), "err.png")
	code, stdout, stderr := pctRun("steps", "--paths", "reference", "--explain", "--plot", png)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"NMSE thresholds", "mul_mat", "m = 2 (3 for f16/bf16"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--explain lacks %q", want)
		}
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("--plot wrote no PNG (%v)", err)
	}
}

func TestParityBadInput(t *testing.T) {
	stories := genStories(t)
	for _, args := range [][]string{
		{"steps", filepath.Join(t.TempDir(), "missing.gguf")},
		{"steps", stories, "--perturb", "reference:blk.0.nope=1e-3"},
		{"steps", stories, "--perturb", "reference:blk.0.q"},
		{"steps", stories, "--perturb", "dsl2:blk.0.q=1e-3", "--paths", "reference"},
		{"steps", stories, "--paths", "nosuchpath"},
		{"steps", stories, "--paths", "reference,reference"},
		{"steps", stories, "--tokens", "1,99999"},
		{"steps", stories, "--tokens", "1", "--prompt", "x"},
		{"steps", stories, "--dtype", "bf16"},
		{"steps", stories, stories},
		{"steps", stories, "--plot", filepath.Join(t.TempDir(), "x.jpg"), "--paths", "reference"},
		{"bisect", stories, "--paths", "reference", "--no-oracle"},
		{"tokens", stories, "-n", "0"},
		{"tokens", stories, "--temp", "-1"},
		{"tokens", stories, "--paths", "reference"},
		{"ops", "--backend", "nosuch"},
		{"report", "--bogus-flag"},
	} {
		code, stdout, stderr := pctRun(args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\nstderr: %s", args, code, stderr)
		}
		if strings.Contains(stderr, "panic") || stdout != "" && strings.HasPrefix(strings.TrimSpace(stdout), "{") {
			t.Errorf("%v: panic or JSON on a usage error", args)
		}
	}
}

// TestReportQuantizedF16: the full report passes on a Q4_K model with f16
// activations (every path detected as rounding mul_mat inputs or not, KL
// judged by the f16 limits).
func TestReportQuantizedF16(t *testing.T) {
	f := filepath.Join(t.TempDir(), "q.gguf")
	if code, _, stderr := pctRun("synth", "--preset", "tiny-qwen2", "--dtype", "q4_k", "--out", f); code != 0 {
		t.Fatalf("synth: %s", stderr)
	}
	for _, dt := range []string{"f32", "f16"} {
		v := pctJSON(t, 0, f, "--dtype", dt, "-n", "16")
		pctCheckSteps(t, "report.steps", v["steps"])
		if r, _ := v["steps"].(map[string]any)["rounding"].(map[string]any); len(r) == 0 {
			t.Errorf("%s: no rounding detected on a Q4_K model", dt)
		}
	}
}
