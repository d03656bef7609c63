package main

import (
	"strings"
	"testing"
)

// TestAttentionFlagsBadInput: --kv and --flash-attn take f32|f16 and
// on|off, and --flash-attn on where it does not apply (the dsl path, which
// the default path list includes) is a usage error naming the path, never
// ignored.
func TestAttentionFlagsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"steps", "--kv", "f8"}, `--kv "f8"`},
		{[]string{"steps", "--flash-attn", "maybe"}, `--flash-attn "maybe"`},
		{[]string{"report", "--flash-attn", "on"}, "does not apply to the dsl path"},
		{[]string{"steps", "--paths", "reference,dsl", "--flash-attn", "on"}, "does not apply to the dsl path"},
		{[]string{"tokens", "--paths", "dsl,reference", "--flash-attn", "on"}, "does not apply to the dsl path"},
		{[]string{"generate", "--path", "dsl", "--flash-attn", "on", "-n", "1"}, "does not apply to the dsl path"},
		{[]string{"logits", "--path", "dsl", "--tokens", "1", "--flash-attn", "on"}, "does not apply to the dsl path"},
		{[]string{"bench", "--path", "dsl", "--flash-attn", "on"}, "does not apply to the dsl path"},
		{[]string{"logits", "--tokens", "1", "--kv", "bf16"}, `--kv "bf16"`},
		// The reference path's flash kernel is ggml-cpu's: under plain
		// numerics there is none.
		{[]string{"steps", "--paths", "reference,llamacpp", "--numerics", "plain", "--flash-attn", "on"}, "does not apply to the reference path under plain numerics"},
		{[]string{"logits", "--tokens", "1", "--numerics", "plain", "--flash-attn", "on"}, "does not apply to the reference path under plain numerics"},
		{[]string{"generate", "-n", "1", "--numerics", "plain", "--flash-attn", "on"}, "does not apply to the reference path under plain numerics"},
		{[]string{"fidelity", "--numerics", "plain", "--flash-attn", "on"}, "does not apply to the reference path under plain numerics"},
	} {
		code, _, stderr := pctRun(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, stderr, c.want)
		}
	}
}

// TestAttentionJSON: single-path commands say how attention ran: "kv",
// "flash_attn" and "llamacpp" (null for a path that is not llama.cpp).
func TestAttentionJSON(t *testing.T) {
	for _, args := range [][]string{
		{"logits", "--tokens", "1,403", "--kv", "f16", "--flash-attn", "on"},
		{"generate", "--tokens", "1", "-n", "2", "--kv", "f16", "--flash-attn", "on"},
		{"bench", "--prompt-len", "4", "-n", "2", "--reps", "1", "--kv", "f16", "--flash-attn", "on"},
	} {
		v := pctJSON(t, 0, args...)
		if v["kv"] != "f16" || v["flash_attn"] != true {
			t.Errorf("%v: kv %v, flash_attn %v; want f16, true", args, v["kv"], v["flash_attn"])
		}
		if v["numerics"] != "ggml-cpu" {
			t.Errorf("%v: numerics %v, want ggml-cpu (the cpu default, under which flash attention runs)", args, v["numerics"])
		}
		if l, ok := v["llamacpp"]; !ok || l != nil {
			t.Errorf("%v: llamacpp = %v (present %v), want null", args, l, ok)
		}
	}
	for _, num := range []string{"ggml-cpu", "plain"} {
		args := []string{"steps", "--paths", "reference,dsl", "--kv", "f16", "--numerics", num}
		v := pctJSON(t, 0, args...)
		pctCheckSteps(t, "steps --kv f16", v)
		if v["kv"] != "f16" || v["flash_attn"] != false || v["llamacpp"] != nil {
			t.Errorf("%v: kv %v, flash_attn %v, llamacpp %v", args, v["kv"], v["flash_attn"], v["llamacpp"])
		}
		if n, _ := v["numerics"].(map[string]any); n["reference"] != num || n["dsl"] != num {
			t.Errorf("%v: numerics %v, want %s for both paths", args, v["numerics"], num)
		}
		code, stdout, _ := pctRun(args...)
		if code != 0 || !strings.Contains(stdout, "attention: KV cache f16, flash attention off") ||
			!strings.Contains(stdout, "numerics: reference "+num+", dsl "+num) {
			t.Errorf("%v: exit %d, headers missing from:\n%s", args, code, stdout)
		}
	}
}

// TestLlamaCppConfigReported: with llama.cpp among the paths, every JSON
// object says what it ran with (its CPU variant, KV type, flash attention,
// threads) and every table header prints it; with --kv f16 --flash-attn on
// fidelity finds the reference bit-identical to llama.cpp (exit 0) where
// bit identity is promised.
func TestLlamaCppConfigReported(t *testing.T) {
	pctNeedLlamacpp(t)
	flags := []string{"--paths", "reference,llamacpp", "--kv", "f16", "--flash-attn", "on"}
	for _, cmd := range []string{"steps", "tokens", "bisect", "fidelity", "report"} {
		args := append([]string{cmd}, flags...)
		if cmd == "tokens" || cmd == "report" {
			args = append(args, "-n", "8")
		}
		v := pctJSON(t, 0, args...)
		obj := v
		if cmd == "report" {
			obj, _ = v["steps"].(map[string]any)
			if tk, _ := v["tokens"].(map[string]any); tk["llamacpp"] == nil {
				t.Errorf("report: tokens lack llamacpp")
			}
		}
		if obj["kv"] != "f16" || obj["flash_attn"] != true {
			t.Errorf("%s: kv %v, flash_attn %v", cmd, obj["kv"], obj["flash_attn"])
		}
		lc, _ := obj["llamacpp"].(map[string]any)
		pctKeys(t, cmd+" llamacpp", lc, "name", "build", "cpu_variant", "kv", "flash_attn", "threads", "ctx", "batch")
		if lc["kv"] != "f16" || lc["flash_attn"] != true || lc["threads"] != 1.0 || lc["cpu_variant"] == "" {
			t.Errorf("%s: llamacpp = %v", cmd, lc)
		}
		if cmd == "fidelity" && v["identical"] != true {
			t.Errorf("fidelity --kv f16 --flash-attn on: not identical: %v", v["first_differ"])
		}
		code, stdout, stderr := pctRun(args...)
		if code != 0 || !strings.Contains(stdout, "KV f16, flash attention on, 1 thread") {
			t.Errorf("%s: exit %d, no llama.cpp header line in:\n%s\n%s", cmd, code, stdout, stderr)
		}
	}
}
