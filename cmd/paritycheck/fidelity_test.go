package main

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
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

// TestInexactWeights: matrices whose matmul the reference does not
// reproduce bit for bit are named, so fidelity reports instead of failing.
func TestInexactWeights(t *testing.T) {
	m := &model.Model{}
	m.Weights.Output = model.Weight{Name: "output.weight", Type: gguf.TypeQ6_K, K: 256, N: 512, Data: []byte{0}}
	m.Weights.Layers = []model.Layer{{
		Q:    model.Weight{Name: "blk.0.attn_q.weight", Type: gguf.TypeQ4_K, K: 256, N: 256, Data: []byte{0}},
		K:    model.Weight{Name: "blk.0.attn_k.weight", Type: gguf.TypeQ4_K, K: 256, N: 100, Data: []byte{0}},
		V:    model.Weight{Name: "blk.0.attn_v.weight", Type: gguf.TypeQ5_0, K: 256, N: 128, Data: []byte{0}},
		O:    model.Weight{Name: "blk.0.attn_output.weight", Type: gguf.TypeQ8_0, K: 256, N: 256, Data: []byte{0}},
		Gate: model.Weight{Name: "blk.0.ffn_gate.weight", Type: gguf.TypeBF16, K: 256, N: 768, Data: []byte{0}},
	}}
	got := strings.Join(inexactWeights(m, true), "; ")
	if want := "blk.0.attn_k.weight (Q4_K); blk.0.attn_v.weight (Q5_0)"; got != want {
		t.Errorf("inexact weights %q, want %q", got, want)
	}
	// Without AVX512_BF16, BF16 matrices are not reproduced either.
	got = strings.Join(inexactWeights(m, false), "; ")
	if want := "blk.0.attn_k.weight (Q4_K); blk.0.attn_v.weight (Q5_0); blk.0.ffn_gate.weight (BF16)"; got != want {
		t.Errorf("inexact weights without AVX512_BF16 %q, want %q", got, want)
	}
}
