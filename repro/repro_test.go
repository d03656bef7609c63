package repro_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	_ "github.com/metallic-go/metallic/parity/paths"
	"github.com/metallic-go/metallic/repro"
)

func stories(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
}

func needClang(t *testing.T) {
	t.Helper()
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
}

// write writes a repro of stories260K (a 5-token prompt, 3 decode steps).
func write(t *testing.T, path, checkpoint string, opts model.PathOptions, perturb string) (*repro.Result, string) {
	t.Helper()
	var ps []parity.Perturbation
	if perturb != "" {
		p, err := parity.ParsePerturb(perturb)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	dir := filepath.Join(t.TempDir(), "repro")
	res, err := repro.Write(repro.Options{File: stories(t), Path: path, PathOptions: opts, Checkpoint: checkpoint,
		Prompt: testenv.StoriesPrompt(5), Decode: 3, Perturb: ps, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	return res, dir
}

func readFloats(t *testing.T, file string, size int) []float64 {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(raw)/size)
	for i := range out {
		if size == 8 {
			out[i] = math.Float64frombits(leU64(raw[8*i:]))
		} else {
			out[i] = float64(math.Float32frombits(uint32(leU64(append(raw[4*i:4*i+4:4*i+4], 0, 0, 0, 0)))))
		}
	}
	return out
}

func leU64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// The folder of a dsl dispatch on the cpu backend holds every call's
// dispatch (the prefill runs the tiled GEMM form, the decode steps the
// GEMV form), the expected outputs and runners; the float64 expectation
// gives the table's figures to the last bit, the cpu replay equals what
// the path produced, and both host runners build, run and stay within the
// bound (they execute the GPU sources, not the Go twin the cpu backend
// ran, so their figures differ in the last bits).
func TestWriteDSL(t *testing.T) {
	needClang(t)
	res, dir := write(t, "dsl", "blk.1.ffn_act", model.PathOptions{Numerics: "plain"}, "")
	m := res.Manifest
	if len(m.Calls) != 4 || m.Calls[0].Rows != 5 || m.Calls[3].Pos != 7 || len(m.Kernels) != 2 || m.Kernels[0].Name == m.Kernels[1].Name {
		t.Fatalf("calls %d (rows %d, last pos %d), kernels %+v", len(m.Calls), m.Calls[0].Rows, m.Calls[3].Pos, m.Kernels)
	}
	if m.Calls[0].CUDA == nil || m.Calls[0].CUDA.Threads[0] != 128 || m.Calls[1].CUDA.Threads[0] != 256 || len(m.Calls[1].Binds) != len(m.Calls[1].Args) {
		t.Fatalf("launches %+v %+v", m.Calls[0].CUDA, m.Calls[1].CUDA)
	}
	if !slices.Equal(m.Kernels[1].Stages, []string{"rmsnorm", "gemv", "swiglu"}) || len(m.Kernels[1].Args) == 0 {
		t.Fatalf("kernel %+v", m.Kernels[1])
	}
	want := readFloats(t, filepath.Join(dir, "expected.f64.bin"), 8)
	rec := readFloats(t, filepath.Join(dir, "recorded.f32.bin"), 4)
	cpu := readFloats(t, filepath.Join(dir, "expected.cpu.f32.bin"), 4)
	if got := parity.Compare(rec, want, parity.F32); got.NMSE != res.Row.NMSE || got.MaxAbs != res.Row.MaxAbs {
		t.Fatalf("recorded vs expected: nmse %g, the table %g", float64(got.NMSE), float64(res.Row.NMSE))
	}
	for i := range rec {
		if rec[i] != cpu[i] {
			t.Fatalf("value %d: the cpu replay gives %g, the path produced %g", i, cpu[i], rec[i])
		}
	}
	var js repro.Manifest
	raw, err := os.ReadFile(filepath.Join(dir, "repro.json"))
	if err != nil || json.Unmarshal(raw, &js) != nil || js.Checkpoint != "blk.1.ffn_act" || len(js.Calls) != 4 {
		t.Fatalf("repro.json: %v", err)
	}
	for _, d := range []string{repro.HostCUDA, repro.HostMSL} {
		f, err := repro.RunHost(dir, d)
		if err != nil {
			t.Fatal(err)
		}
		if !(f.NMSE <= float64(res.Row.Bound)) || f.NMSE == 0 || !strings.Contains(f.Output, "step table") {
			t.Fatalf("%s runner: nmse %g (bound %g):\n%s", d, f.NMSE, float64(res.Row.Bound), f.Output)
		}
		t.Logf("%s runner:\n%s", d, f.Output)
	}
}

// A perturbed checkpoint: the table's row fails, and the runners apply the
// run's perturbation to their output, so their figures are the table's to
// the precision the kernels' rounding allows (the perturbation dominates).
func TestWritePerturbed(t *testing.T) {
	needClang(t)
	res, dir := write(t, "dsl", "blk.2.q_rope", model.PathOptions{Numerics: "plain"}, "dsl:blk.2.q_rope=1e-3")
	if res.Row.Verdict != parity.Fail || len(res.Manifest.Perturb) != 1 {
		t.Fatalf("row %s, perturb %+v", res.Row.Verdict, res.Manifest.Perturb)
	}
	f, err := repro.RunHost(dir, repro.HostCUDA)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(f.NMSE-float64(res.Row.NMSE)) / float64(res.Row.NMSE); rel > 1e-3 || !strings.Contains(f.Output, "FAIL") {
		t.Fatalf("runner nmse %g, the table %g:\n%s", f.NMSE, float64(res.Row.NMSE), f.Output)
	}
}

// A stage checkpoint of an unfused kernel (--unfuse): the stage's own
// kernel, judged by the stage's oracle.
func TestWriteStage(t *testing.T) {
	needClang(t)
	res, dir := write(t, "dsl", "blk.1.ffn_act.gemv_up", model.PathOptions{Numerics: "plain", Unfuse: true}, "")
	m := res.Manifest
	if m.Stage != "gemv_up" || m.Of != "blk.1.ffn_act" || m.Op != "mul_mat" || !slices.Equal(m.Kernels[0].Stages, []string{"gemv"}) {
		t.Fatalf("manifest: stage %q of %q, op %s, kernels %+v", m.Stage, m.Of, m.Op, m.Kernels)
	}
	f, err := repro.RunHost(dir, repro.HostCUDA)
	if err != nil {
		t.Fatal(err)
	}
	if !(f.NMSE <= float64(res.Row.Bound)) {
		t.Fatalf("runner:\n%s", f.Output)
	}
}

// A built-in op of the reference path: under plain the folder has the
// cuda and metal backends' hand-written kernels and their launches; under
// ggml-cpu (the cpu backend only) it has no GPU source and says why.
func TestWriteReference(t *testing.T) {
	needClang(t)
	res, dir := write(t, "reference", "blk.3.attn_out", model.PathOptions{Numerics: "plain"}, "")
	m := res.Manifest
	if !m.Kernels[0].Builtin || m.Kernels[0].CUDA == "" || m.Kernels[0].MSL == "" || len(m.Unusable) != 0 || m.Calls[0].CUDA == nil || m.Calls[0].MSL == nil {
		t.Fatalf("manifest: kernels %+v, unusable %v", m.Kernels, m.Unusable)
	}
	for _, d := range []string{repro.HostCUDA, repro.HostMSL} {
		f, err := repro.RunHost(dir, d)
		if err != nil {
			t.Fatal(err)
		}
		if !(f.NMSE <= float64(res.Row.Bound)) {
			t.Fatalf("%s runner:\n%s", d, f.Output)
		}
	}
	res, dir = write(t, "reference", "blk.0.q", model.PathOptions{Numerics: "ggml-cpu"}, "")
	if len(res.Manifest.Runners) != 0 || res.Manifest.Unusable["cuda"] == "" || res.Manifest.Unusable["metal"] == "" {
		t.Fatalf("ggml-cpu: runners %v, unusable %v", res.Manifest.Runners, res.Manifest.Unusable)
	}
	if _, err := os.Stat(filepath.Join(dir, "host", "cuda_runner.cpp")); err == nil {
		t.Fatal("a host runner without a GPU source")
	}
}

// The CUDA runner parses as CUDA (host and device code) with clang's own
// CUDA mode against a stub of the runtime API and clangcheck's device shim
// (with the declarations the hand-written kernels add): what nvcc will
// compile on the GPU machine, for composed kernels (fused and one stage)
// and for built-in ops.
func TestCUDARunnerParses(t *testing.T) {
	needClang(t)
	clang, _ := clangcheck.Clang()
	root := testenv.RepoRoot(t)
	stub := filepath.Join(root, "repro", "testdata", "cudastub")
	shim := t.TempDir()
	var fp16 []byte
	for _, f := range []string{filepath.Join(root, "dsl", "kernel", "clangcheck", "shim", "cudadev", "cuda_fp16.h"), filepath.Join(stub, "fp16_extra.h")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fp16 = append(fp16, b...)
	}
	if err := os.WriteFile(filepath.Join(shim, "cuda_fp16.h"), fp16, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, checkpoint string
		unfuse           bool
	}{
		{"dsl", "blk.1.ffn_act", false}, {"dsl", "blk.0.q_rope", false}, {"dsl", "blk.2.attn_out", false}, {"dsl", "blk.0.ffn_inp.residual", true},
		{"reference", "blk.0.q", false}, {"reference", "blk.0.attn_norm", false}, {"reference", "blk.3.attn_out", false}, {"reference", "blk.1.k_rope", false},
	} {
		t.Run(c.path+"/"+c.checkpoint, func(t *testing.T) {
			_, dir := write(t, c.path, c.checkpoint, model.PathOptions{Numerics: "plain", Unfuse: c.unfuse}, "")
			cmd := exec.Command(clang, "-x", "cuda", "-nocudainc", "-nocudalib", "--cuda-gpu-arch=sm_80", "-std=c++17", "-fsyntax-only",
				"-Wno-unknown-cuda-version", "-I", stub, "-I", shim, "cuda/runner.cu")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// Bad requests are errors before anything is written.
func TestWriteErrors(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    repro.Options
		want string
	}{
		{"llamacpp", repro.Options{Path: "llamacpp", Checkpoint: "logits"}, "unsupported"},
		{"not-empty", repro.Options{Path: "dsl", Checkpoint: "logits", Out: full}, "not empty"},
		{"no-out", repro.Options{Path: "dsl", Checkpoint: "logits"}, "no output folder"},
		{"unknown", repro.Options{Path: "dsl", Checkpoint: "blk.9.q", Out: filepath.Join(t.TempDir(), "a")}, "layers"},
		{"stage-fused", repro.Options{Path: "dsl", Checkpoint: "blk.0.q.gemv", Out: filepath.Join(t.TempDir(), "a")}, "--unfuse"},
		{"fused-away", repro.Options{Path: "dsl", Checkpoint: "blk.0.attn_norm", Out: filepath.Join(t.TempDir(), "a")}, "does not materialize"},
		{"no-stage", repro.Options{Path: "dsl", Checkpoint: "blk.0.q_rope.rope", PathOptions: model.PathOptions{Unfuse: true},
			Out: filepath.Join(t.TempDir(), "a")}, "single stage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.File, c.o.Prompt, c.o.Decode = stories(t), testenv.StoriesPrompt(3), 1
			_, err := repro.Write(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.name == "llamacpp" && !errors.Is(err, repro.ErrUnsupported) {
				t.Fatalf("%v is not ErrUnsupported", err)
			}
		})
	}
}

// TestRunCPUExact: a repro of a path on the cpu backend reproduces its
// step table's figures bit for bit through the Go runner (the cpu
// backend's own code), for a passing, a perturbed and a stage checkpoint
// of the dsl path and for reference built-ins under both profiles; the
// C++ host runners execute the GPU sources instead.
func TestRunCPUExact(t *testing.T) {
	for _, c := range []struct {
		name, path, checkpoint, perturb string
		opts                            model.PathOptions
		verdict                         string
	}{
		{"dsl/pass", "dsl", "blk.1.ffn_act", "", model.PathOptions{Numerics: "plain"}, parity.Pass},
		{"dsl/perturbed", "dsl", "blk.2.q_rope", "dsl:blk.2.q_rope=1e-3", model.PathOptions{Numerics: "plain"}, parity.Fail},
		{"dsl/stage", "dsl", "blk.1.ffn_act.swiglu", "", model.PathOptions{Numerics: "plain", Unfuse: true}, parity.Pass},
		{"dsl/f16", "dsl", "blk.0.l_out", "", model.PathOptions{Numerics: "plain", ActDType: "f16"}, parity.Pass},
		{"reference/ggml-cpu", "reference", "blk.3.attn_out", "", model.PathOptions{Numerics: "ggml-cpu"}, parity.Pass},
		{"reference/plain", "reference", "blk.0.ffn_up", "", model.PathOptions{Numerics: "plain"}, parity.Pass},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, dir := write(t, c.path, c.checkpoint, c.opts, c.perturb)
			if res.Row.Verdict != c.verdict {
				t.Fatalf("the table's row: %s, want %s", res.Row.Verdict, c.verdict)
			}
			var out strings.Builder
			f, err := repro.RunCPU(dir, stories(t), &out)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Identical || !f.BitExact || f.NMSE != float64(res.Row.NMSE) || f.MaxULP != res.Row.MaxULP {
				t.Fatalf("figures %+v, the table nmse %g max_ulp %d:\n%s", f, float64(res.Row.NMSE), res.Row.MaxULP, out.String())
			}
			if !strings.Contains(out.String(), "figures: identical to the step table's") {
				t.Fatalf("report:\n%s", out.String())
			}
		})
	}
	// A folder run against another model is refused, not misread.
	_, dir := write(t, "dsl", "blk.1.ffn_act", model.PathOptions{Numerics: "plain"}, "")
	other := filepath.Join(t.TempDir(), "other.gguf")
	if err := os.WriteFile(other, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repro.RunCPU(dir, other, io.Discard); err == nil || !strings.Contains(err.Error(), "written from model") {
		t.Fatalf("another model: %v", err)
	}
}
