package dsl

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/model"
)

// mutate decodes the embedded llama spec, applies f and re-encodes it.
func mutate(t *testing.T, f func(s map[string]any)) []byte {
	t.Helper()
	data, err := EmbeddedSpec("llama")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	f(s)
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func step(s map[string]any, path ...int) map[string]any {
	cur := s["forward"].([]any)[path[0]].(map[string]any)
	for _, i := range path[1:] {
		cur = cur["steps"].([]any)[i].(map[string]any)
	}
	return cur
}

func TestSpecValidationErrors(t *testing.T) {
	cases := []struct {
		name, path, msg string
		f               func(s map[string]any)
	}{
		{"unknown op", "forward[1].steps[1].op", "unknown op", func(s map[string]any) { step(s, 1, 1)["op"] = "atention" }},
		{"unknown tensor", "forward[1].steps[0].gamma", "unknown tensor", func(s map[string]any) { step(s, 1, 0)["gamma"] = "attn_nrm" }},
		{"undefined variable", "forward[1].steps[0].eps", "undefined variable \"epsilon\"", func(s map[string]any) { step(s, 1, 0)["eps"] = "epsilon" }},
		{"variable of wrong type", "forward[1].steps[1].heads", "is float, want int", func(s map[string]any) { step(s, 1, 1)["heads"] = "eps" }},
		{"literal of wrong type", "forward[1].steps[1].heads", "want an int", func(s map[string]any) { step(s, 1, 1)["heads"] = 4.5 }},
		{"name of wrong JSON type", "forward[1].steps[0].gamma", "want a tensor name", func(s map[string]any) { step(s, 1, 0)["gamma"] = 3 }},
		{"string variable of wrong type", "forward[1].steps[0].style", "is int, want string", func(s map[string]any) { step(s, 1, 0)["style"] = "$n_heads" }},
		{"unknown field", "forward[0].tabel", "unknown field", func(s map[string]any) { step(s, 0)["tabel"] = "token_embd" }},
		{"missing field", "forward[0].table", "missing tensor field", func(s map[string]any) { delete(step(s, 0), "table") }},
		{"undefined buffer", "forward[1].steps[1].q", "undefined buffer", func(s map[string]any) { step(s, 1, 1)["q"] = "q_rotated" }},
		{"unknown checkpoint", "forward[1].steps[2].checkpoint", "unknown checkpoint", func(s map[string]any) { step(s, 1, 2)["checkpoint"] = "ffn_input" }},
		{"repeat count type", "forward[1].count", "is float, want int", func(s map[string]any) { step(s, 1)["count"] = "eps" }},
		{"loop variable reused", "forward[1].var", "already defined", func(s map[string]any) { step(s, 1)["var"] = "eps" }},
		{"variable source type", "variables.eps.from", "layers is int", func(s map[string]any) {
			s["variables"].(map[string]any)["eps"].(map[string]any)["from"] = "layers"
		}},
		{"variable type", "variables.eps.type", "want \"int\"", func(s map[string]any) {
			s["variables"].(map[string]any)["eps"].(map[string]any)["type"] = "double"
		}},
		{"literal variable type", "variables.k.value", "want an int", func(s map[string]any) {
			s["variables"].(map[string]any)["k"] = map[string]any{"type": "int", "value": "four"}
		}},
		{"placeholder outside repeat", "forward[2].gamma", "undefined variable {i}", func(s map[string]any) {
			s["tensors"].(map[string]any)["output_norm"] = []any{"output_norm.{i}.weight"}
		}},
		{"tensor names", "tensors.output", "non-empty array", func(s map[string]any) { s["tensors"].(map[string]any)["output"] = []any{} }},
		{"top-level field", "forwrd", "unknown field", func(s map[string]any) { s["forwrd"] = s["forward"] }},
		{"architecture", "architecture", "non-empty string", func(s map[string]any) { s["architecture"] = 7 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(mutate(t, c.f))
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error = %v, want a *SpecError", err)
			}
			if se.Path != c.path || !strings.Contains(se.Msg, c.msg) {
				t.Fatalf("error %q, want path %s and message containing %q", err, c.path, c.msg)
			}
		})
	}
	if _, err := Parse([]byte(`{"architecture": "llama",`)); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("truncated JSON: %v", err)
	}
}

// Errors that need the model: missing tensors, enum values, architecture.
func TestSpecCompileErrors(t *testing.T) {
	m := openStories(t)
	cases := []struct {
		name, path, msg string
		f               func(s map[string]any)
	}{
		{"tensor absent from model", "forward[1].steps[0].wq", "blk.0.attn_query.weight", func(s map[string]any) {
			s["tensors"].(map[string]any)["attn_q"] = []any{"blk.{i}.attn_query.weight"}
		}},
		{"rope style", "forward[1].steps[0].style", "want \"neox\" or \"normal\"", func(s map[string]any) { step(s, 1, 0)["style"] = "sideways" }},
		{"architecture mismatch", "architecture", "model is \"llama\"", func(s map[string]any) { s["architecture"] = "qwen2" }},
		{"wrong K", "forward[1].steps[4].w", "has K=", func(s map[string]any) { step(s, 1, 4)["w"] = "attn_output"; step(s, 1, 4)["input"] = "ffn_act" }},
		// Checks against the model's checkpoint graph (model.NewGraph).
		{"checkpoint of another architecture", "forward[1].steps[2]", "a llama model has no such checkpoint", func(s map[string]any) { step(s, 1, 2)["checkpoint"] = "q_norm" }},
		{"checkpoint width", "forward[2]", "is 512 wide, the checkpoint graph says d = 64", func(s map[string]any) { step(s, 2)["checkpoint"] = "output_norm" }},
		{"global checkpoint in a block", "forward[1].steps[2]", "produced once, outside the blocks", func(s map[string]any) { step(s, 1, 2)["checkpoint"] = "logits" }},
		{"block checkpoint outside the blocks", "forward[2]", "produced by every block", func(s map[string]any) { step(s, 2)["checkpoint"] = "l_out" }},
		{"checkpoint twice", "forward[1].steps[4]", "blk.0.l_out is materialized twice", func(s map[string]any) { step(s, 1, 2)["checkpoint"] = "l_out" }},
		{"checkpoint order", "forward", "not in the order of the checkpoint graph", func(s map[string]any) { step(s, 1, 2)["checkpoint"] = "ffn_out" }},
		{"embedding in a block", "forward[1].steps[0]", "embd is produced once", func(s map[string]any) {
			inner := step(s, 1)["steps"].([]any)
			step(s, 1)["steps"] = append([]any{map[string]any{"op": "embed", "table": "token_embd", "out": "x"}}, inner...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "spec.json")
			if err := os.WriteFile(file, mutate(t, c.f), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New(m, Options{PathOptions: model.PathOptions{Spec: file}})
			var se *SpecError
			if !errors.As(err, &se) || se.Path != c.path || !strings.Contains(se.Msg, c.msg) {
				t.Fatalf("New error = %v, want path %s and %q", err, c.path, c.msg)
			}
		})
	}
}

// A user spec file runs, and the path registers as "dsl".
func TestUserSpecFileAndRegistry(t *testing.T) {
	m := openStories(t)
	file := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(file, mutate(t, func(map[string]any) {}), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := model.OpenPath("dsl", m, model.PathOptions{Spec: file, Ctx: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	assert.Equal(t, goldenStories[:8], greedy(t, p, 8), "user spec: greedy tokens")
	if _, err := New(m, Options{PathOptions: model.PathOptions{Spec: filepath.Join(t.TempDir(), "missing.json")}}); err == nil {
		t.Fatal("missing spec file accepted")
	}
	e, err := New(m, Options{Spec: file, PathOptions: model.PathOptions{Spec: "ignored.json", Ctx: 8}})
	if err != nil {
		t.Fatalf("Options.Spec should win over PathOptions.Spec: %v", err)
	}
	e.Close()
}
