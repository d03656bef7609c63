package cuda

import (
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// The host's share of a decode step, measured without a GPU: the paths
// run on the cuda backend over the fake driver, whose kernels do nothing,
// so what is timed is the Go side (recording, packing, the graph key,
// uploads, the logits download and conversion) — what a GPU step adds on
// top of its kernels when nothing overlaps.

// noopCompiler registers a kernel that does nothing for every entry a
// source defines, so any source (built-in or composed) loads.
type noopCompiler struct {
	fakeCompiler
	d *fakeDriver
}

func (c *noopCompiler) compile(src, name string, opts []string, headers []header, cubin bool) ([]byte, string, error) {
	img, log, err := c.fakeCompiler.compile(src, name, opts, headers, cubin)
	if err != nil {
		return img, log, err
	}
	entries := fieldsAfter(string(img), "FAKE ")
	for _, m := range launchBounds.FindAllStringSubmatch(src, -1) {
		entries = append(entries, m[1])
	}
	if len(entries) > 0 {
		img = []byte("FAKE " + strings.Join(entries, " "))
	}
	for _, e := range entries {
		if c.d.kernels[e] == nil {
			c.d.kernels[e] = &fakeKernel{entry: e, run: func(*fakeDriver, fakeLaunch) error { return nil }}
		}
	}
	return img, log, nil
}

// launchBounds finds the entries of the built-in kernels' stubs.
var launchBounds = regexp.MustCompile(`__global__ void __launch_bounds__\(\d+\) (\w+)\(`)

func fieldsAfter(s, prefix string) []string {
	var out []string
	start := len(prefix)
	for i := start; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

var registerNoop sync.Once

// noopBackendName registers (once) and returns the name of a backend that
// is the cuda backend over a fake driver whose kernels do nothing.
func noopBackendName() string {
	registerNoop.Do(func() {
		backend.Register("cuda-noop", func(backend.Options) (backend.Backend, error) {
			d := newFakeDriver()
			d.inf.totalMem, d.freeMem = 8<<30, 8<<30
			c := &noopCompiler{d: d}
			conf, err := parseConfig(func(string) string { return "" })
			if err != nil {
				return nil, err
			}
			return newBackend(newDevice(d, c, []string{"/fake/include"}), conf)
		})
	})
	return "cuda-noop"
}

// BenchmarkHostDecode times the host side of one decode step (after a
// 64-token prefill) of each path on the cuda backend over a fake driver
// whose kernels do nothing, on synth qwen2.5-0.5b Q4_0 (the launch count
// and logits size of the real model; the weights' dtype does not matter
// here). It runs anywhere: go test ./cuda -run '^$' -bench HostDecode.
func BenchmarkHostDecode(b *testing.B) {
	file := filepath.Join(b.TempDir(), "q.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: "qwen2.5-0.5b", DType: gguf.TypeQ4_0, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	name := noopBackendName()
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32((1 + 7*i) % m.Config.Vocab)
	}
	for _, path := range []string{"reference", "dsl"} {
		for _, act := range []string{"f32", "f16"} {
			b.Run(path+"/"+act, func(b *testing.B) {
				p, err := model.OpenPath(path, m, model.PathOptions{Backend: name, ActDType: act, Ctx: 256})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				if _, err := p.Forward(prompt, 0); err != nil {
					b.Fatal(err)
				}
				pos := len(prompt)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if pos == 256 {
						b.StopTimer()
						p.Reset()
						if _, err := p.Forward(prompt, 0); err != nil {
							b.Fatal(err)
						}
						pos = len(prompt)
						b.StartTimer()
					}
					if _, err := model.ForwardLast(p, []int32{1}, pos); err != nil {
						b.Fatal(err)
					}
					pos++
				}
			})
		}
	}
}

// TestDecodeProfileOnFakeDriver runs BenchmarkDecode's profile step on
// the no-op fake driver for both paths: every launch of the step is timed
// and grouped, the hold kernel loads.
func TestDecodeProfileOnFakeDriver(t *testing.T) {
	m := openStories(t)
	name := noopBackendName()
	for _, path := range []string{"reference", "dsl"} {
		p, err := model.OpenPath(path, m, model.PathOptions{Backend: name, Ctx: 64})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		total, err := profileDecode(t, p, []int32{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		be, _ := pathBackend(p)
		// The fake driver's clock advances 1.5 ms per launch.
		// stories260K: llama, 5 layers, no biases; the dsl's RoPE rides in
		// its QKV GEMV.
		want := map[string]float64{"reference": 1.5 * (3 + 5*17), "dsl": 1.5 * (2 + 5*5)}[path]
		if total != want || be.ProfileHold() != "" {
			t.Errorf("%s: %v ms in the profile, want %v; hold: %q", path, total, want, be.ProfileHold())
		}
	}
}
