package llamacpp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// TestTraceGraph prints every node llama.cpp's eval callback is asked
// about for a synth preset: the tool for extending the checkpoint mapping.
func TestTraceGraph(t *testing.T) {
	if os.Getenv("TRACE") == "" {
		t.Skip("SKIP: set TRACE=<synth preset> to print llama.cpp's graph node names")
	}
	requireLib(t)
	file := filepath.Join(t.TempDir(), "q.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: os.Getenv("TRACE"), DType: gguf.TypeF32, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(m, Options{PathOptions: model.PathOptions{Threads: 1, Ctx: 64}})
	if err != nil {
		t.Fatal(err)
	}
	traceEval = func(name, op string, typ int32, ne [4]int64) { t.Logf("%-24s %-10s %d %v", name, op, typ, ne) }
	defer func() { traceEval = nil }()
	p.SetHook(func(*model.Tensor) {})
	p.Forward([]int32{1, 2}, 0)
}
