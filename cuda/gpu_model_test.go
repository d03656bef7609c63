package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
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
// METALLIC_BENCH_DTYPE (default f16); activations f32 (the acceptance's
// configuration, as paritycheck bench) and f16. It reports tok/s; the
// profile sub-benchmarks log one decode step's per-kernel GPU times (the
// backend's profiling mode, graphs off) and report their sum as
// decode-gpu-ms. Run it on the GPU machine with
//
//	./cuda.test -test.run '^$' -test.bench Decode -test.benchtime 128x
//
// (-test.bench 'Decode/.*/reference/F16/f32' for one configuration).
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
		for _, act := range []string{"f32", "f16"} {
			for _, graphs := range []string{"1", "0"} {
				b.Run(fmt.Sprintf("%s/%s/%v/%s/graphs=%s", preset, path, dt, act, graphs), func(b *testing.B) {
					b.Setenv(EnvGraphs, graphs)
					p, err := model.OpenPath(path, m, model.PathOptions{Backend: "cuda", ActDType: act, Ctx: 64 + b.N + 1})
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					logits, err := model.ForwardLast(p, prompt, 0)
					if err != nil {
						b.Fatal(err)
					}
					next := argmax(logits)
					be, _ := pathBackend(p)
					w0 := be.Waited()
					b.ResetTimer()
					for i := range b.N {
						logits, err = model.ForwardLast(p, []int32{next}, len(prompt)+i)
						if err != nil {
							b.Fatal(err)
						}
						next = argmax(logits)
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
					// The host's share: a step's time outside the waits for
					// the GPU (recording, upload, graph launch, logits
					// download, argmax).
					wait := (be.Waited() - w0).Seconds() * 1000 / float64(b.N)
					b.ReportMetric(wait, "wait-ms/tok")
					b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)-wait, "host-ms/tok")
				})
			}
			b.Run(fmt.Sprintf("%s/%s/%v/%s/profile", preset, path, dt, act), func(b *testing.B) {
				p, err := model.OpenPath(path, m, model.PathOptions{Backend: "cuda", ActDType: act, Ctx: 128})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				var total float64
				for i := range b.N {
					if i > 0 {
						continue // one profiled step is the measurement
					}
					if total, err = profileDecode(b, p, prompt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(total, "decode-gpu-ms")
			})
		}
	}
}

// profileDecode prefills prompt on p, profiles one decode step, logs its
// per-kernel GPU times and returns their sum in milliseconds.
func profileDecode(tb testing.TB, p model.Path, prompt []int32) (float64, error) {
	be, ok := pathBackend(p)
	if !ok {
		return 0, fmt.Errorf("path %s does not run on a cuda backend it exposes", p.Name())
	}
	p.Reset()
	if _, err := model.ForwardLast(p, prompt, 0); err != nil {
		return 0, err
	}
	if err := be.SetProfiling(true); err != nil {
		return 0, err
	}
	defer be.SetProfiling(false)
	if h := be.ProfileHold(); h != "" {
		tb.Logf("no hold kernel (%s): short kernels' times include the host's launch latency", h)
	}
	if _, err := model.ForwardLast(p, []int32{42}, len(prompt)); err != nil {
		return 0, err
	}
	ts, err := be.Profile()
	if err != nil {
		return 0, err
	}
	return logKernelTimes(tb, "decode step", ts), nil
}

// pathBackend returns the cuda backend a path runs on, when the path
// tells (reference.Context and dsl.Executor do, through Backend()).
func pathBackend(p model.Path) (*Backend, bool) {
	bp, ok := p.(interface{ Backend() backend.Backend })
	if !ok {
		return nil, false
	}
	be, ok := bp.Backend().(*Backend)
	return be, ok
}

// logKernelTimes logs the launches of one forward call grouped by kernel
// label (the dsl's names without their hash), slowest first, and returns
// the total GPU milliseconds.
func logKernelTimes(tb testing.TB, what string, ts []KernelTime) float64 {
	type row struct {
		n  int
		ms float64
	}
	rows := map[string]*row{}
	var total float64
	for _, t := range ts {
		name := kernelHash.ReplaceAllString(t.Kernel, "")
		r := rows[name]
		if r == nil {
			r = &row{}
			rows[name] = r
		}
		r.n++
		r.ms += t.Ms
		total += t.Ms
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return rows[names[i]].ms > rows[names[j]].ms })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d launches, %.3f ms of GPU time\n", what, len(ts), total)
	fmt.Fprintf(&sb, "  %-36s %6s %10s %9s\n", "kernel", "count", "total ms", "mean µs")
	for _, n := range names {
		r := rows[n]
		fmt.Fprintf(&sb, "  %-36s %6d %10.3f %9.1f\n", n, r.n, r.ms, 1000*r.ms/float64(r.n))
	}
	tb.Log(sb.String())
	return total
}

var kernelHash = regexp.MustCompile(`_[0-9a-f]{8}$`)

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
