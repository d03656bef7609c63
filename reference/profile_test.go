package reference_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// spy is the cpu backend recording every built-in op it loads.
type spy struct {
	backend.Backend
	mu    sync.Mutex
	specs []backend.KernelSpec
}

func (s *spy) Name() string { return "refspy" }

func (s *spy) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	s.mu.Lock()
	s.specs = append(s.specs, spec)
	s.mu.Unlock()
	return s.Backend.Load(spec)
}

var (
	registerOnce sync.Once
	lastSpy      *spy
)

// registerTestBackends adds "refspy" (cpu, recording loads) and
// "plainonly" (cpu presented as a backend implementing only plain, as a
// GPU backend does) to the registry.
func registerTestBackends() {
	registerOnce.Do(func() {
		backend.Register("refspy", func(o backend.Options) (backend.Backend, error) {
			lastSpy = &spy{Backend: cpu.New(o)}
			return lastSpy, nil
		})
		backend.Register("plainonly", func(o backend.Options) (backend.Backend, error) {
			return backendtest.Restrict(cpu.New(o), "plainonly", backend.Plain), nil
		})
	})
}

func q8Model(t *testing.T) *model.Model {
	t.Helper()
	file := filepath.Join(t.TempDir(), "q8.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: "tiny-qwen2", DType: gguf.TypeQ8_0, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestNumericsSelection: the profile a reference context computes under
// is the one asked for (default ggml-cpu on cpu, plain on any other
// backend); every built-in op is loaded under it, the projections as
// matmul_q under ggml-cpu and matmul under plain; it declares it; and a
// backend lacking the profile fails the open with an error naming it.
func TestNumericsSelection(t *testing.T) {
	registerTestBackends()
	m := q8Model(t)
	for _, c := range []struct {
		backend, ask, want, mm string
	}{
		{"refspy", "", "plain", backend.OpMatMul}, // not "cpu": plain by default
		{"refspy", "plain", "plain", backend.OpMatMul},
		{"refspy", "ggml-cpu", "ggml-cpu", backend.OpMatMulQ},
		{"plainonly", "", "plain", backend.OpMatMul},
	} {
		t.Run(c.backend+"/"+c.ask, func(t *testing.T) {
			lastSpy = nil
			p := open(t, m, model.PathOptions{Backend: c.backend, Numerics: c.ask, Ctx: 8})
			if got := p.Numerics(); got != c.want {
				t.Errorf("Numerics() = %q, want %q", got, c.want)
			}
			if _, err := p.Forward([]int32{1, 2, 3}, 0); err != nil {
				t.Fatal(err)
			}
			if lastSpy == nil {
				return
			}
			var ops []string
			for _, s := range lastSpy.specs {
				if string(s.Numerics) != c.want {
					t.Errorf("%s loaded under %q, want %q", s.Name, s.Numerics, c.want)
				}
				ops = append(ops, s.Name)
			}
			other := map[string]string{backend.OpMatMul: backend.OpMatMulQ, backend.OpMatMulQ: backend.OpMatMul}[c.mm]
			if !slices.Contains(ops, c.mm) || slices.Contains(ops, other) {
				t.Errorf("loaded ops %v: want %s for the projections, never %s", ops, c.mm, other)
			}
		})
	}
	if p := open(t, m, model.PathOptions{Ctx: 8}); p.Numerics() != "ggml-cpu" {
		t.Errorf("default on cpu: %q, want ggml-cpu", p.Numerics())
	}
	for _, c := range []struct{ backend, ask, want string }{
		{"plainonly", "ggml-cpu", "ggml-cpu"},
		{"cpu", "fast", `"fast"`},
	} {
		_, err := model.OpenPath("reference", m, model.PathOptions{Backend: c.backend, Numerics: c.ask})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with numerics %q: error %v, want one naming %s", c.backend, c.ask, err, c.want)
		}
	}
}

// TestGoldenStories260KPlain: under plain too, stories260K's first 48
// greedy tokens from BOS are the documented ones, in f32 and f16 storage.
func TestGoldenStories260KPlain(t *testing.T) {
	m := stories(t)
	for _, act := range []string{"f32", "f16"} {
		c := open(t, m, model.PathOptions{ActDType: act, Numerics: "plain"})
		res, err := model.Generate(c, []int32{1}, model.GenerateOptions{MaxTokens: 48})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Tokens, golden) {
			t.Errorf("%s: greedy tokens\n got %v\nwant %v", act, res.Tokens, golden)
		}
	}
}
