package dsl_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// The worked example of docs/DSL.md: a spec whose LM head is the new
// fused step runs, and its logits are soft-capped.
func TestWorkedExampleSoftcap(t *testing.T) {
	m, err := model.Open(filepath.Join("..", "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data, err := dsl.EmbeddedSpec("llama")
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	fw := spec["forward"].([]any)
	head := fw[len(fw)-1].(map[string]any)
	head["op"] = "rmsnorm_gemv_softcap"
	vars := spec["variables"].(map[string]any)
	for _, capValue := range []float64{1000, 2} {
		vars["cap"] = map[string]any{"type": "float", "value": capValue}
		out, _ := json.Marshal(spec)
		file := filepath.Join(t.TempDir(), "softcap.json")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := dsl.New(m, dsl.Options{PathOptions: model.PathOptions{Spec: file, Ctx: 8}})
		if err != nil {
			t.Fatal(err)
		}
		logits, err := e.Forward([]int32{1}, 0)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		var peak float64
		for _, v := range logits {
			peak = math.Max(peak, math.Abs(float64(v)))
		}
		if capValue == 2 && !(peak < 2 && peak > 1) {
			t.Fatalf("cap 2: max |logit| = %g, want in (1, 2)", peak)
		}
		if capValue == 1000 && sample.Greedy(logits) != 403 {
			t.Fatalf("cap 1000: greedy token %d, want 403 (stories260K golden)", sample.Greedy(logits))
		}
	}
	// The dynamic parameter's variable is checked when the spec compiles.
	for _, c := range []struct {
		v    any
		want string
	}{{nil, "does not define"}, {map[string]any{"type": "int", "value": 3}, "other numeric type"}} {
		if c.v == nil {
			delete(vars, "cap")
		} else {
			vars["cap"] = c.v
		}
		out, _ := json.Marshal(spec)
		file := filepath.Join(t.TempDir(), "softcap.json")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := dsl.New(m, dsl.Options{PathOptions: model.PathOptions{Spec: file, Ctx: 8}})
		var se *dsl.SpecError
		if !errors.As(err, &se) || se.Path != "forward[2]" || !strings.Contains(se.Msg, c.want) {
			t.Fatalf("cap variable %v: error %v, want one at forward[2] saying %q", c.v, err, c.want)
		}
	}
}
