package dsl

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/cuda"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// gpuBenchModel returns the model BenchmarkGPU runs: the file named by
// METALLIC_BENCH_MODEL, else a synth model generated into the benchmark's
// temporary folder: preset METALLIC_BENCH_PRESET (default qwen2.5-0.5b),
// dtype METALLIC_BENCH_DTYPE (default f16), seed 1, the embedded Qwen
// sub-vocabulary (no tokenizer file needed on the GPU machine).
func gpuBenchModel(b *testing.B) *model.Model {
	path := os.Getenv("METALLIC_BENCH_MODEL")
	if path == "" {
		preset := envOr("METALLIC_BENCH_PRESET", "qwen2.5-0.5b")
		dt, err := gguf.ParseType(envOr("METALLIC_BENCH_DTYPE", "f16"))
		if err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(b.TempDir(), preset+".gguf")
		t0 := time.Now()
		if _, err := synth.WriteFile(path, synth.Options{Preset: preset, DType: dt, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Logf("synth %s %v written in %v", preset, dt, time.Since(t0).Round(time.Millisecond))
	}
	m, err := model.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// benchPrompt is the prompt paritycheck bench uses: ids 1+7i mod vocab.
func benchPrompt(n, vocab int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((1 + 7*i) % vocab)
	}
	return p
}

// BenchmarkGPU measures the dsl path on the cuda backend at the shape of
// Qwen2.5-0.5B (see gpuBenchModel), activations METALLIC_BENCH_ACT
// (default f32, as paritycheck bench), numerics plain:
//
//   - decode: one-token forward calls after a 64-token prefill, as
//     paritycheck bench's decode_tok_s (greedy sampling not timed);
//   - prefill64, prefill512: a forward call of 64 or 512 tokens from an
//     empty cache returning the last token's logits (ForwardLast, as
//     paritycheck bench's prefill through model.Generate);
//     prefill512-all-logits: Forward, all 512 rows of logits computed and
//     downloaded (what step parity and the logits command pay);
//   - profile: one prefill of 64, one decode step and one prefill of 512
//     with the backend's profiling on (graphs off), logging each kernel's
//     GPU time and, for a decode step, the weight bytes it reads and the
//     bandwidth that makes; the sums are reported as gpu-ms metrics.
//
// It skips without a GPU and fails under METALLIC_REQUIRE_CUDA=1. Run it on
// the GPU machine as
//
//	./dsl.test -test.run '^$' -test.bench GPU -test.benchtime 128x
func BenchmarkGPU(b *testing.B) {
	needGPU(b)
	m := gpuBenchModel(b)
	act := envOr("METALLIC_BENCH_ACT", "f32")
	e, err := New(m, Options{PathOptions: model.PathOptions{Backend: "cuda", ActDType: act, Ctx: 4096}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	cb := cudaOf(b, e)
	b.Logf("%s", cb.Provenance())
	benchPath(b, e, act, cb)
}

// profiler is what benchPath needs of the cuda backend.
type profiler interface {
	SetProfiling(on bool) error
	Profile() ([]cuda.KernelTime, error)
	GraphStats() cuda.GraphStats
	ProfileHold() string
	Waited() time.Duration
}

// benchPath runs BenchmarkGPU's sub-benchmarks on e.
func benchPath(b *testing.B, e *Executor, act string, prof profiler) {
	vocab := e.m.Config.Vocab
	prefill := func(n int) {
		e.Reset()
		if _, err := e.ForwardLast(benchPrompt(n, vocab), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("decode/%s", act), func(b *testing.B) {
		prefill(64)
		before := prof.GraphStats()
		w0 := prof.Waited()
		pos := 64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if pos == e.ctx {
				b.StopTimer()
				prefill(64)
				pos = 64
				b.StartTimer()
			}
			if _, err := e.Forward([]int32{int32((3 + 11*i) % vocab)}, pos); err != nil {
				b.Fatal(err)
			}
			pos++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		// The host's share of a step: its time outside the waits for the
		// GPU (an untimed refill of the prompt would count as a wait; 128
		// steps in a 4096-position cache need none).
		wait := (prof.Waited() - w0).Seconds() * 1000 / float64(b.N)
		b.ReportMetric(wait, "wait-ms/tok")
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)-wait, "host-ms/tok")
		st := prof.GraphStats()
		b.Logf("CUDA graphs over %d decode steps: %d replayed, %d captured, %d plain, %d failed", b.N,
			st.Replayed-before.Replayed, st.Captured-before.Captured, st.Plain-before.Plain, st.Failed-before.Failed)
	})
	for _, n := range []int{64, 512} {
		b.Run(fmt.Sprintf("prefill%d/%s", n, act), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				prefill(n)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
	b.Run(fmt.Sprintf("prefill512-all-logits/%s", act), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			e.Reset()
			if _, err := e.Forward(benchPrompt(512, vocab), 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("profile", func(b *testing.B) {
		if err := prof.SetProfiling(true); err != nil {
			b.Fatal(err)
		}
		defer prof.SetProfiling(false)
		if h := prof.ProfileHold(); h != "" {
			b.Logf("no hold kernel (%s): short kernels' times include the host's launch latency", h)
		}
		for i := 0; i < b.N; i++ {
			if i > 0 {
				continue // one profiled pass is the measurement
			}
			prefill(64)
			p64, err := prof.Profile()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.Forward([]int32{42}, 64); err != nil {
				b.Fatal(err)
			}
			dec, err := prof.Profile()
			if err != nil {
				b.Fatal(err)
			}
			prefill(512)
			p512, err := prof.Profile()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(logProfile(b, "decode step", dec, e.weightBytes(1)), "decode-gpu-ms")
			b.ReportMetric(logProfile(b, "prefill 64", p64, nil), "prefill64-gpu-ms")
			b.ReportMetric(logProfile(b, "prefill 512", p512, nil), "prefill512-gpu-ms")
		}
	})
}

// weightBytes returns, per dispatch of a call of T tokens (ops it skips
// left out), the bytes of the weight buffers it binds (nil when the
// arguments are not bound yet).
func (e *Executor) weightBytes(T int) []int {
	all, ok := e.bound[T]
	if !ok {
		return nil
	}
	weights := map[backend.Buffer]bool{}
	for _, w := range e.wbufs {
		weights[w] = true
	}
	var out []int
	for i, args := range all {
		if op := e.ops[i]; op.Skip != nil && op.Skip(Run{T: T}) {
			continue // not dispatched
		}
		out = append(out, 0)
		i := len(out) - 1
		for _, a := range args {
			if a.Kind == backend.ArgBuffer && weights[a.Buf] {
				out[i] += a.Buf.Size()
			}
		}
	}
	return out
}

var kernelHash = regexp.MustCompile(`_[0-9a-f]{8}$`)

// logProfile logs the launches of one forward call grouped by kernel (name
// without its hash) and returns the total GPU milliseconds. bytes, when
// given, is the weight bytes of each launch, in launch order.
func logProfile(b *testing.B, what string, ts []cuda.KernelTime, bytes []int) float64 {
	type row struct {
		n     int
		ms    float64
		bytes int
	}
	rows := map[string]*row{}
	var total float64
	for i, t := range ts {
		name := kernelHash.ReplaceAllString(t.Kernel, "")
		r := rows[name]
		if r == nil {
			r = &row{}
			rows[name] = r
		}
		r.n++
		r.ms += t.Ms
		if bytes != nil && i < len(bytes) && len(bytes) == len(ts) {
			r.bytes += bytes[i]
		}
		total += t.Ms
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return rows[names[i]].ms > rows[names[j]].ms })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d launches, %.3f ms of GPU time\n", what, len(ts), total)
	fmt.Fprintf(&sb, "  %-24s %6s %10s %9s %10s %8s\n", "kernel", "count", "total ms", "mean µs", "weight MB", "GB/s")
	for _, n := range names {
		r := rows[n]
		gbs := ""
		if r.bytes > 0 {
			gbs = fmt.Sprintf("%.0f", float64(r.bytes)/r.ms/1e6)
		}
		fmt.Fprintf(&sb, "  %-24s %6d %10.3f %9.1f %10.1f %8s\n", n, r.n, r.ms, 1000*r.ms/float64(r.n), float64(r.bytes)/1e6, gbs)
	}
	b.Log(sb.String())
	return total
}

// fakeProfiler stands in for the cuda backend: one launch of 1 µs per op
// of the last forward call.
type fakeProfiler struct {
	e     *Executor
	on    bool
	calls int
}

func (f *fakeProfiler) SetProfiling(on bool) error { f.on = on; return nil }
func (f *fakeProfiler) ProfileHold() string        { return "" }
func (f *fakeProfiler) Waited() time.Duration      { return 0 }
func (f *fakeProfiler) GraphStats() cuda.GraphStats {
	f.calls++
	return cuda.GraphStats{Replayed: f.calls}
}
func (f *fakeProfiler) Profile() ([]cuda.KernelTime, error) {
	var out []cuda.KernelTime
	for _, op := range f.e.ops {
		out = append(out, cuda.KernelTime{Kernel: op.L.K.Name, Ms: 0.001})
	}
	return out, nil
}

// TestBenchPathOnCPU runs BenchmarkGPU's body on the cpu backend with a
// tiny model and a fake profiler, so the benchmark the GPU machine runs is
// known to work before it gets there.
func TestBenchPathOnCPU(t *testing.T) {
	m := tiny{arch: "qwen2", dim: 64, layers: 1, heads: 4, kv: 2, ff: 128, vocab: 97, dtype: gguf.TypeF16}.open(t)
	e, err := New(m, Options{PathOptions: model.PathOptions{Ctx: 600, Numerics: "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	old := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "3x"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("test.benchtime", old)
	res := testing.Benchmark(func(b *testing.B) { benchPath(b, e, "f32", &fakeProfiler{e: e}) })
	if res.N == 0 {
		t.Fatalf("the benchmark did not run: %+v", res)
	}
	// A decode step dispatches every op but the RoPE kernels fused into
	// the QKV GEMV; the first dispatch after the embedding reads weights.
	if got := e.weightBytes(1); len(got) != len(e.ops)-2 || got[1] == 0 {
		t.Errorf("weight bytes per decode dispatch: %v (%d ops)", got, len(e.ops))
	}
}
