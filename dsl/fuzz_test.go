package dsl

import (
	"testing"

	"github.com/metallic-go/metallic/model"
)

// FuzzSpec feeds arbitrary JSON to Parse and, when it validates, compiles
// it for stories260K: bad specs must give errors, never panics.
func FuzzSpec(f *testing.F) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		data, err := EmbeddedSpec(arch)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"architecture":"llama","tensors":{"t":["token_embd.weight"]},"forward":[{"op":"embed","table":"t","out":"x"}]}`))
	f.Add([]byte(`{"architecture":"llama","variables":{"n":{"type":"int","value":-3}},"tensors":{"t":["x{i}"]},"forward":[{"op":"repeat","count":"n","var":"i","steps":[{"op":"embed","table":"t","out":"x"}]}]}`))
	m, err := model.Open(repoRoot(f) + "/testdata/stories260K.gguf")
	if err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil || s.Architecture != "llama" {
			return
		}
		e, err := newFromSpec(m, s, Options{PathOptions: model.PathOptions{Ctx: 4}})
		if err != nil {
			return
		}
		defer e.Close()
		if _, err := e.Forward([]int32{1}, 0); err != nil {
			t.Fatalf("a spec that compiles failed to run: %v", err)
		}
	})
}
