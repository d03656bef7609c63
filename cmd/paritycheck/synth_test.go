package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/model"
)

func runSynthCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(append([]string{"synth"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestSynthJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q.gguf")
	code, stdout, stderr := runSynthCLI("--preset", "tiny-qwen3", "--dtype", "Q8_0", "--seed", "11", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Out     string  `json:"out"`
		Seconds float64 `json:"seconds"`
		DType   string  `json:"dtype"`
		Seed    uint64  `json:"seed"`
		Vocab   int     `json:"vocab"`
		Tensors int     `json:"tensors"`
		Params  int64   `json:"params"`
		Bytes   int64   `json:"bytes"`
		Preset  struct {
			Name    string `json:"name"`
			Arch    string `json:"arch"`
			HeadDim int    `json:"head_dim"`
		} `json:"preset"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	// tiny-qwen3: 1 + 2 layers × 11 + 1 tensors; 1024×256 + 2×(256×512 +
	// 2×256×256 + 512×256 + 3×256×768 + 256×2 + 128×2) + 256 parameters.
	if got.Out != out || got.DType != "q8_0" || got.Seed != 11 || got.Vocab != 1024 || got.Tensors != 24 ||
		got.Params != 2230016 || got.Preset.Arch != "qwen3" || got.Preset.HeadDim != 128 {
		t.Fatalf("got %+v", got)
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() != got.Bytes {
		t.Fatalf("file %v (err %v), json bytes %d", st, err, got.Bytes)
	}
	m, err := model.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config.Arch != "qwen3" || m.Config.HeadDim != 128 || !m.Config.QKNorm {
		t.Fatalf("config %+v", m.Config)
	}
}

// TestSynthMix: --mix writes llama-quantize's types (tiny-qwen2-d384's rows
// of 384 fall back from Q4_K to Q5_0 and from Q6_K to Q8_0) and says so.
func TestSynthMix(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.gguf")
	code, stdout, stderr := runSynthCLI("--preset", "tiny-qwen2-d384", "--mix", "q4_k_m", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Mix   string         `json:"mix"`
		Types map[string]int `json:"types"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	// 2 layers, use_more_bits true for layer 1 only (i ≥ 7·2/8): q, k, o,
	// gate, up at rows of 384 and layer 0's attn_v → Q4_K → Q5_0; layer
	// 1's attn_v → Q6_K → Q8_0; ffn_down (rows of 1024) Q4_K, then Q6_K;
	// the tied embedding → Q8_0.
	want := map[string]int{"q5_0": 11, "q8_0": 2, "q4_k": 1, "q6_k": 1}
	if got.Mix != "q4_k_m" || len(got.Types) != len(want) {
		t.Fatalf("got %+v, want types %v", got, want)
	}
	for k, v := range want {
		if got.Types[k] != v {
			t.Errorf("%s: %d matrices, want %d (all: %v)", k, got.Types[k], v, got.Types)
		}
	}
}

func TestSynthText(t *testing.T) {
	out := filepath.Join(t.TempDir(), "l.gguf")
	code, stdout, stderr := runSynthCLI("--preset", "tiny-llama", "--out", out)
	if code != 0 || !strings.Contains(stdout, "tiny-llama: llama, d 256, 3 layers, 8/4 heads") || stderr != "" {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestSynthBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.gguf")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--out", out}, "needs --preset"},
		{[]string{"--preset", "tiny-gpt", "--out", out}, `unknown preset "tiny-gpt"`},
		{[]string{"--preset", "tiny-llama"}, "needs --out"},
		{[]string{"--preset", "tiny-llama", "--out", out, "--dtype", "q9"}, `--dtype "q9"`},
		{[]string{"--preset", "tiny-llama", "--out", out, "--dtype", "q5_k"}, "dtype Q5_K is not supported"},
		{[]string{"--preset", "tiny-llama", "--out", out, "--seed", "-1"}, "invalid value"},
		{[]string{"--preset", "tiny-qwen2", "--out", out, "--vocab", filepath.Join(dir, "none.json")}, "none.json"},
		{[]string{"--preset", "tiny-llama", "--out", filepath.Join(dir, "missing", "x.gguf")}, "missing"},
		{[]string{"--preset", "tiny-llama", "--out", out, "extra"}, "no positional arguments"},
		{[]string{"--preset", "tiny-llama", "--out", out, "--mix", "q4_k_s"}, `--mix "q4_k_s"`},
		{[]string{"--preset", "tiny-llama", "--out", out, "--mix", "q4_k_m", "--dtype", "f16"}, "--mix and --dtype"},
	}
	for _, c := range cases {
		code, stdout, stderr := runSynthCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%q: exit %d, stderr %q, want exit 2 mentioning %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left a file behind")
	}
	if code, _, stderr := runSynthCLI("--help"); code != 0 || !strings.Contains(stderr, "qwen2.5-0.5b") {
		t.Errorf("--help: exit %d, stderr %q", code, stderr)
	}
}
