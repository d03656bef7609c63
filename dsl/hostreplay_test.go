package dsl

import (
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// recBackend is the cpu backend recording buffers and dispatches, so a
// forward can be replayed with the kernels' CUDA sources.
type recBackend struct {
	*cpu.Backend
	ids       map[backend.Buffer]int
	bufs      []backend.Buffer
	recording bool
	snap      [][]byte
	disp      []recDispatch
	uploads   int // Upload calls while recording
}

type recDispatch struct {
	kernel string
	grid   backend.Grid
	args   []backend.Arg
}

var (
	recOnce sync.Once
	lastRec *recBackend
)

func registerRec() {
	recOnce.Do(func() {
		backend.Register("hostrec", func(o backend.Options) (backend.Backend, error) {
			lastRec = &recBackend{Backend: cpu.New(o), ids: map[backend.Buffer]int{}}
			return lastRec, nil
		})
	})
}

func (r *recBackend) add(b backend.Buffer, err error) (backend.Buffer, error) {
	if err == nil {
		r.ids[b] = len(r.bufs)
		r.bufs = append(r.bufs, b)
	}
	return b, err
}

func (r *recBackend) Alloc(n int) (backend.Buffer, error)   { return r.add(r.Backend.Alloc(n)) }
func (r *recBackend) Wrap(d []byte) (backend.Buffer, error) { return r.add(r.Backend.Wrap(d)) }

func (r *recBackend) Upload(dst backend.Buffer, off int, src []byte) error {
	if r.recording {
		r.uploads++
	}
	return r.Backend.Upload(dst, off, src)
}

func (r *recBackend) Begin() backend.Encoder {
	if r.recording && r.snap == nil {
		for _, b := range r.bufs {
			r.snap = append(r.snap, append([]byte(nil), b.(backend.HostBuffer).Bytes()...))
		}
	}
	return &recEncoder{Encoder: r.Backend.Begin(), r: r}
}

type recEncoder struct {
	backend.Encoder
	r *recBackend
}

func (e *recEncoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.r.recording {
		e.r.disp = append(e.r.disp, recDispatch{k.Name(), g, append([]backend.Arg(nil), args...)})
	}
	e.Encoder.Dispatch(k, g, args...)
}

// replay writes the C++ statements replaying one recorded forward from
// its snapshot and saving buffer out to file.
func replay(t *testing.T, d kernel.Dialect, r *recBackend, ks map[string]*kernel.Kernel, dir, tag string, out backend.Buffer, file string) string {
	var b strings.Builder
	b.WriteString("    {\n    std::vector<std::vector<unsigned char>> B;\n")
	for i, s := range r.snap {
		f := filepath.Join(dir, fmt.Sprintf("%s_%d", tag, i))
		if err := os.WriteFile(f, s, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "    B.push_back(load(%q));\n", f)
	}
	for _, dp := range r.disp {
		k := ks[dp.kernel]
		var call []string
		for _, a := range k.Args {
			v := dp.args[a.Index]
			switch a.Kind {
			case kernel.ArgBuffer:
				call = append(call, fmt.Sprintf("P{B[%d].data() + %d}", r.ids[v.Buf], v.Off))
			case kernel.ArgInt:
				call = append(call, strconv.Itoa(v.I))
			default:
				call = append(call, strconv.FormatFloat(float64(v.F), 'x', -1, 32)+"f")
			}
		}
		if d == kernel.MSL {
			call = append(call, "MSLPosition()", "MSLThread()")
		}
		fmt.Fprintf(&b, "    launch(%d, %d, %d, [&] { %s::%s(%s); });\n", max(dp.grid.X, 1), max(dp.grid.Y, 1),
			k.Preset.Threads, k.Name, k.Entry, strings.Join(call, ", "))
	}
	fmt.Fprintf(&b, "    save(%q, B[%d]);\n    }\n", file, r.ids[out])
	return b.String()
}

// Whole forwards (a 5-token prefill, then a decode step over the cache)
// replayed from the specs' generated CUDA and MSL sources on the host give
// the CPU path's logits: the GPU code, the argument tables and the
// executor's bindings agree. With f32 activations the agreement is tight
// (1e-4 of rms+|logit|; observed ≤ 2e-6): stories260K, tiny qwen2 in F16
// and tiny qwen3 in Q4_K (q/k norms) under plain, where the prefill runs
// the tiled GEMM form and the decode step the GEMV form, and qwen2 in Q8_0
// (biases) and qwen3 in Q4_K under ggml-cpu (the GEMV form with llama.cpp's
// input rounding). With f16 activations the GPU's and the CPU's different
// summation orders flip the f16 rounding of a few stored values by one ulp
// per layer, which the next layers amplify to ~1e-3 of the logits (tiny
// qwen2 in F16 under plain, held to 5e-3); under ggml-cpu such a flip can
// also flip an 8-bit input rounding and move a whole token row by ~1%, so
// that combination (CPU-only: GPUs run plain) is not replayed. A wrong
// kernel or binding moves logits by O(1).
func TestSpecForwardReplayedFromGPUSources(t *testing.T) {
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	registerRec()
	both := []kernel.Dialect{kernel.CUDA, kernel.MSL}
	// The quantized models run ggml-cpu, whose GEMV sources carry the
	// input rounding; stories260K (F32) runs plain, as GPUs do.
	cases := []struct {
		name     string
		m        func() *model.Model
		act, num string
		tol      float64
		dialects []kernel.Dialect
		unfuse   bool
	}{
		{"stories260K/f32", func() *model.Model { return openStories(t) }, "f32", "plain", 1e-4, both, false},
		{"qwen2/F16/f32", func() *model.Model { return tinyOf("qwen2", gguf.TypeF16).open(t) }, "f32", "plain", 1e-4, both[:1], false},
		{"qwen3/Q4_K/f32", func() *model.Model { return tinyOf("qwen3", gguf.TypeQ4_K).open(t) }, "f32", "plain", 1e-4, both[:1], false},
		{"qwen2/F16/f16", func() *model.Model { return tinyOf("qwen2", gguf.TypeF16).open(t) }, "f16", "plain", 5e-3, both[1:], false},
		{"qwen2/Q8_0/f32", func() *model.Model { return tinyOf("qwen2", gguf.TypeQ8_0).open(t) }, "f32", "ggml-cpu", 1e-4, both[:1], false},
		{"qwen3/Q4_K/f32", func() *model.Model { return tinyOf("qwen3", gguf.TypeQ4_K).open(t) }, "f32", "ggml-cpu", 1e-4, both[1:], false},
		// Unfused (every stage its own kernel, Pointwise epilogues, f32
		// temporaries): the split kernels' GPU sources and bindings too.
		{"unfused/stories260K/f32", func() *model.Model { return openStories(t) }, "f32", "plain", 1e-4, both, true},
		{"unfused/qwen2/Q8_0/f32", func() *model.Model { return tinyOf("qwen2", gguf.TypeQ8_0).open(t) }, "f32", "plain", 1e-4, both[:1], true},
		{"unfused/qwen3/Q4_K/f32", func() *model.Model { return tinyOf("qwen3", gguf.TypeQ4_K).open(t) }, "f32", "ggml-cpu", 1e-4, both[1:], true},
	}
	for _, c := range cases {
		m := c.m()
		for _, d := range c.dialects {
			t.Run(c.name+"/"+c.num+"/"+d.String(), func(t *testing.T) { replayCase(t, clang, d, m, c.act, c.num, c.tol, c.unfuse) })
		}
	}
}

func replayCase(t *testing.T, clang string, d kernel.Dialect, m *model.Model, act, num string, tol float64, unfuse bool) {
	e, err := New(m, Options{PathOptions: model.PathOptions{Backend: "hostrec", Ctx: 8, ActDType: act, Numerics: num, Unfuse: unfuse}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec := lastRec
	ks := map[string]*kernel.Kernel{}
	var src strings.Builder
	if d == kernel.CUDA {
		src.WriteString(clangcheck.HostCUDA)
	} else {
		src.WriteString(clangcheck.HostMSL)
	}
	for _, k := range e.Kernels() {
		ks[k.Name] = k
		code := strings.Replace(k.CUDA, "#include <cuda_fp16.h>\n", "", 1)
		if d == kernel.MSL {
			code = strings.Replace(k.MSL, "#include <metal_stdlib>\n", "", 1)
		}
		fmt.Fprintf(&src, "namespace %s {\n%s}\n", k.Name, strings.ReplaceAll(code, "extern \"C\" ", ""))
	}
	dir := t.TempDir()
	var body strings.Builder
	var want [][]float32
	for i, call := range []struct {
		tokens []int32
		pos    int
	}{{[]int32{1, 40, 7, 12, 90}, 0}, {[]int32{61}, 5}} {
		rec.recording, rec.snap, rec.disp = true, nil, nil
		logits, err := e.Forward(call.tokens, call.pos)
		if err != nil {
			t.Fatal(err)
		}
		rec.recording = false
		want = append(want, logits)
		body.WriteString(replay(t, d, rec, ks, dir, fmt.Sprint("f", i), e.logits.Buf, filepath.Join(dir, fmt.Sprint("logits", i))))
	}
	src.WriteString("int main() {\n" + body.String() + "    return 0;\n}\n")
	cpp, bin := filepath.Join(dir, "replay.cpp"), filepath.Join(dir, "replay")
	if err := os.WriteFile(cpp, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, clangcheck.HostFlagsQuick(bin, cpp)...).CombinedOutput(); err != nil {
		t.Fatalf("compiling: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin).CombinedOutput(); err != nil {
		t.Fatalf("running: %v\n%s", err, out)
	}
	for i, w := range want {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("logits", i)))
		if err != nil {
			t.Fatal(err)
		}
		var rms float64
		for _, v := range w {
			rms += float64(v) * float64(v)
		}
		rms = math.Sqrt(rms / float64(len(w)))
		var worst float64
		for j, v := range w {
			g := math.Float32frombits(uint32(raw[4*j]) | uint32(raw[4*j+1])<<8 | uint32(raw[4*j+2])<<16 | uint32(raw[4*j+3])<<24)
			diff := math.Abs(float64(g - v))
			worst = math.Max(worst, diff/(rms+math.Abs(float64(v))))
			if !(diff <= tol*(rms+math.Abs(float64(v)))) {
				t.Fatalf("forward %d logit %d: %s replay %g, CPU %g (rms %g)", i, j, d, g, v, rms)
			}
		}
		t.Logf("forward %d: worst |diff|/(rms+|ref|) = %.2g", i, worst)
	}
	t.Logf("%d kernels, %d dispatches replayed as %s", len(ks), len(rec.disp), d)
}
