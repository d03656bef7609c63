package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/embedded"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"

	_ "github.com/metallic-go/metallic/dsl"       // the dsl path
	_ "github.com/metallic-go/metallic/reference" // the reference path
)

// storiesGolden is stories260K's greedy continuation of BOS (DESIGN.md).
var storiesGolden = testenv.StoriesGreedy()

// openStories opens the embedded stories260K model (no file needed next to
// the test binary).
func openStories(t testing.TB) *model.Model {
	t.Helper()
	f, err := gguf.Parse(embedded.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGPUStoriesGolden: both paths on cuda, f32 and f16 storage, produce
// the 48 golden ids greedily from BOS.
func TestGPUStoriesGolden(t *testing.T) {
	gpu(t, nil) // skips (or fails) without a GPU
	if ok, why := builtinsMerged(); !ok {
		t.Skip(why)
	}
	m := openStories(t)
	for _, path := range []string{"reference", "dsl"} {
		for _, act := range []string{"f32", "f16"} {
			t.Run(path+"/"+act, func(t *testing.T) {
				p, err := model.OpenPath(path, m, model.PathOptions{Backend: "cuda", ActDType: act})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				res, err := model.Generate(p, []int32{1}, model.GenerateOptions{MaxTokens: len(storiesGolden)})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Tokens, storiesGolden) {
					i := 0
					for i < len(res.Tokens) && i < len(storiesGolden) && res.Tokens[i] == storiesGolden[i] {
						i++
					}
					t.Fatalf("tokens differ from the golden at index %d:\n got %v\nwant %v", i, res.Tokens, storiesGolden)
				}
				t.Logf("48 golden ids; decode %.0f tok/s", res.DecodeTokPerSec())
			})
		}
	}
}

// BenchmarkDecode times greedy decode on cuda for each path with graphs on
// and off, after a 64-token prefill, on a synth model: the preset in
// METALLIC_BENCH_PRESET (default qwen2.5-0.5b) and dtype in
// METALLIC_BENCH_DTYPE (default f16). It reports tok/s. Run it on the GPU
// machine with -test.bench Decode -test.run '^$' -test.benchtime 128x.
func BenchmarkDecode(b *testing.B) {
	gpu(b, nil)
	if ok, why := builtinsMerged(); !ok {
		b.Skip(why)
	}
	preset := envOr("METALLIC_BENCH_PRESET", "qwen2.5-0.5b")
	dt, err := gguf.ParseType(envOr("METALLIC_BENCH_DTYPE", "f16"))
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), preset+".gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: dt, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32((1 + 7*i) % m.Config.Vocab)
	}
	for _, path := range []string{"reference", "dsl"} {
		for _, graphs := range []string{"1", "0"} {
			b.Run(fmt.Sprintf("%s/%s/%v/graphs=%s", preset, path, dt, graphs), func(b *testing.B) {
				b.Setenv(EnvGraphs, graphs)
				p, err := model.OpenPath(path, m, model.PathOptions{Backend: "cuda", ActDType: "f16", Ctx: 64 + b.N + 1})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				logits, err := p.Forward(prompt, 0)
				if err != nil {
					b.Fatal(err)
				}
				next := argmax(logits[len(logits)-m.Config.Vocab:])
				b.ResetTimer()
				for i := range b.N {
					logits, err = p.Forward([]int32{next}, len(prompt)+i)
					if err != nil {
						b.Fatal(err)
					}
					next = argmax(logits)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

func argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
