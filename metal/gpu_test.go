package metal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// The tests below need a Mac with Apple silicon: they open the real
// backend (Open), skip without one and fail instead under
// METALLIC_REQUIRE_METAL=1. docs/BACKENDS.md ("metal") gives the command
// and what each asserts. They have not yet been executed on Apple
// hardware.

// gpu opens the real backend, closed when the test ends.
func gpu(t testing.TB) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		testenv.NeedMetal(t, err.Error())
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// gpuOpener gives each op test the real backend.
func gpuOpener(t *testing.T) backend.Backend { return gpu(t) }

// gpuOps runs backendtest's op tests on the metal backend.
var gpuOps = backendtest.Ops{Open: gpuOpener, Stream: 0x6d6574616c}

// needGPU skips (or fails) a model test without the real backend.
func needGPU(t testing.TB) {
	t.Helper()
	gpu(t)
}

// TestGPUProvenance logs the line and JSON to record with results, and
// checks the device is what the kernels need.
func TestGPUProvenance(t *testing.T) {
	b := gpu(t)
	p := b.Provenance()
	js, _ := json.MarshalIndent(p, "", "  ")
	t.Logf("%s\n%s", p, js)
	if p.Device == "" || !p.UnifiedMemory || p.WorkingSetMiB == 0 || p.LanguageVersion != "3.0" || p.Numerics != "plain" ||
		(p.MathMode != "mathMode=safe" && p.MathMode != "fastMathEnabled=NO") || len(p.Families) == 0 || p.Families[0] != "apple7" {
		t.Errorf("provenance %+v", p)
	}
}

// TestGPUConformance is the conformance suite on the GPU: every op ×
// weight dtype × activation dtype against the float64 oracle.
func TestGPUConformance(t *testing.T) { backendtest.Run(t, gpu(t)) }

// TestGPUDeterminism: the suite's output bits are identical across two
// runs (fixed reduction orders, no atomics).
func TestGPUDeterminism(t *testing.T) {
	b := gpu(t)
	a, c := backendtest.Fingerprint(b), backendtest.Fingerprint(b)
	if len(a) < 100 || !slices.Equal(a, c) {
		t.Fatalf("two runs of the suite differ: %v vs %v", a, c)
	}
}

func TestGPUOpsMatMul(t *testing.T)    { needGPU(t); backendtest.OpsMatMul(t, gpuOps) }
func TestGPUOpsAttention(t *testing.T) { needGPU(t); backendtest.OpsAttention(t, gpuOps) }
func TestGPUOpsRope(t *testing.T)      { needGPU(t); backendtest.OpsRope(t, gpuOps) }
func TestGPUOpsRowOps(t *testing.T)    { needGPU(t); backendtest.OpsRowOps(t, gpuOps) }

func TestGPUStoriesGolden(t *testing.T) {
	needGPU(t)
	testStoriesGolden(t, "metal")
}

func TestGPUStepParity(t *testing.T) {
	needGPU(t)
	testStepParity(t, "metal")
}

func TestGPUTokenParity(t *testing.T) {
	needGPU(t)
	testTokenParity(t, "metal", 64)
}

// TestGPUWrapMapped: the tensors of a model file mapped by gguf.Open are
// views of one no-copy wrapping of the mapping (mach_vm_region found it
// read-only), aliasing the file's pages.
func TestGPUWrapMapped(t *testing.T) {
	b := gpu(t)
	f, err := gguf.Open(testenv.Stories(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var first *region
	for i, ti := range f.Tensors {
		data := f.Data(&f.Tensors[i])
		x, err := b.Wrap(data)
		if err != nil {
			t.Fatalf("%s: %v", ti.Name, err)
		}
		buf := x.(*buffer)
		if buf.region == nil || &buf.Bytes()[0] != &data[0] {
			t.Fatalf("%s was copied, not bound into the mapping", ti.Name)
		}
		if first == nil {
			first = buf.region
		} else if buf.region != first {
			t.Errorf("%s: a second region (the mapping is wrapped once)", ti.Name)
		}
		defer b.Free(x)
	}
	if len(b.regions) != 1 {
		t.Errorf("%d regions for one mapping", len(b.regions))
	}
}

// TestGPUCompileError: a kernel Metal cannot compile fails Load with
// Metal's log.
func TestGPUCompileError(t *testing.T) {
	b := gpu(t)
	_, err := b.Load(backend.KernelSpec{Name: "broken", Entry: "broken", Threads: 32,
		MSL: "#include <metal_stdlib>\nusing namespace metal;\nkernel void broken(device float* y [[buffer(0)]]) { y[0] = undeclared; }\n"})
	var ce *CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Log, "undeclared") {
		t.Fatalf("Load: %v, want a *CompileError with Metal's log", err)
	}
	t.Log(err)
}

// BenchmarkDecode times greedy decode on metal for each path after a
// 64-token prefill, on a synth model: the preset in METALLIC_BENCH_PRESET
// (default qwen2.5-0.5b) and dtype in METALLIC_BENCH_DTYPE (default f16).
// It reports tok/s. Run it with -test.bench Decode -test.run '^$'
// -test.benchtime 128x.
func BenchmarkDecode(b *testing.B) {
	needGPU(b)
	preset, dt := envOr("METALLIC_BENCH_PRESET", "qwen2.5-0.5b"), envOr("METALLIC_BENCH_DTYPE", "f16")
	ty, err := gguf.ParseType(dt)
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), preset+".gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: ty, Seed: 1}); err != nil {
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
		b.Run(fmt.Sprintf("%s/%s/%v", preset, path, ty), func(b *testing.B) {
			p, err := model.OpenPath(path, m, model.PathOptions{Backend: "metal", ActDType: "f16", Ctx: 64 + b.N + 1})
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
				if logits, err = p.Forward([]int32{next}, len(prompt)+i); err != nil {
					b.Fatal(err)
				}
				next = argmax(logits)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
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
