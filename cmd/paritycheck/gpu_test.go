package main

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/synth"
)

// GPU tests of the CLI: they run on the H100 machine (the lead builds
// them with `CGO_ENABLED=0 go test -c -o paritycheck.test ./cmd/paritycheck`
// and runs them in cmd/paritycheck with METALLIC_REQUIRE_CUDA=1 and
// -test.run GPU); elsewhere they skip with the reason (and fail under
// METALLIC_REQUIRE_CUDA=1).

// needGPU skips (or fails) the test unless the cuda backend opens.
func needGPU(t *testing.T) {
	t.Helper()
	b, err := backend.Open("cuda")
	if err != nil {
		testenv.NeedCUDA(t, err.Error())
		return
	}
	b.Close()
}

// gpuSynth writes a synth model of preset in dtype into a temporary folder.
func gpuSynth(t *testing.T, preset string, dt gguf.Type) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), preset+".gguf")
	if _, err := synth.WriteFile(f, synth.Options{Preset: preset, DType: dt, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return f
}

// gpuLog runs a text command and logs its output (the GPU run's record).
func gpuLog(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, stdout, stderr := pctRun(args...)
	t.Logf("paritycheck %s → exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	if code != want {
		t.Errorf("%v: exit %d, want %d", args, code, want)
	}
	return stdout
}

// TestGPUStepsCPUandCUDA: steps of the reference on cpu and cuda and the
// dsl on cuda, on stories260K and synth tiny-qwen2 (F16, Q8_0): every
// compared checkpoint within bounds; then seeded token parity.
func TestGPUStepsCPUandCUDA(t *testing.T) {
	needGPU(t)
	models := map[string]string{"stories260K": genStories(t)}
	for _, dt := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0} {
		models["tiny-qwen2-"+strings.ToLower(dt.String())] = gpuSynth(t, "tiny-qwen2", dt)
	}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		m := models[name]
		t.Run(name, func(t *testing.T) {
			v := pctJSON(t, 0, "steps", m, "--paths", "reference@cpu,reference@cuda,dsl@cuda")
			pctCheckSteps(t, "steps", v)
			be, _ := v["backends"].(map[string]any)
			if b, _ := be["reference@cuda"].(map[string]any); b == nil || !strings.HasPrefix(b["provenance"].(string), "cuda: ") {
				t.Errorf("backends[reference@cuda] = %v, want cuda's provenance line", be["reference@cuda"])
			} else {
				t.Logf("reference@cuda: %s", b["provenance"])
			}
			tk := pctJSON(t, 0, "tokens", m, "--paths", "reference@cpu,reference@cuda,dsl@cuda", "-n", "24", "--temp", "0.8", "--seed", "7")
			t.Logf("tokens: first_divergence %v class %v kld_max %v", tk["first_divergence"], tk["class"], tk["kld_max"])
		})
	}
}

// TestGPUBisectCUDA: a perturbation of the dsl on cuda is named by bisect.
func TestGPUBisectCUDA(t *testing.T) {
	needGPU(t)
	v := pctJSON(t, 1, "bisect", genStories(t), "--paths", "reference@cuda,dsl@cuda", "--perturb", "dsl@cuda:blk.3.ffn_act=1e-3")
	if v["checkpoint"] != "blk.3.ffn_act" || v["layer"] != 3.0 {
		t.Errorf("bisect named %v (layer %v), want blk.3.ffn_act: %v", v["checkpoint"], v["layer"], v["evidence"])
	}
}

// TestGPUFidelityCUDA: each op of a path on cuda, fed the cpu path's
// inputs, is within its bound of the float64 oracle; the table is logged.
func TestGPUFidelityCUDA(t *testing.T) {
	needGPU(t)
	m := genStories(t)
	q := gpuSynth(t, "tiny-qwen3", gguf.TypeQ4_0)
	for _, args := range [][]string{
		{"fidelity", m, "--paths", "reference@cuda,reference@cpu"},
		{"fidelity", m, "--paths", "dsl@cuda,dsl@cpu", "--numerics", "plain"},
		{"fidelity", q, "--paths", "reference@cuda,reference@cpu"},
	} {
		out := gpuLog(t, 0, args...)
		if !strings.Contains(out, "within its bound") && !strings.Contains(out, "bit for bit given the same inputs") {
			t.Errorf("%v: no verdict line", args)
		}
	}
	v := pctJSON(t, 1, "fidelity", m, "--paths", "reference@cuda,reference@cpu", "--perturb", "reference@cuda:blk.1.ffn_up=1e-3")
	if ff, _ := v["first_failure"].(map[string]any); ff["checkpoint"] != "blk.1.ffn_up" {
		t.Errorf("first_failure %v, want blk.1.ffn_up", ff)
	}
}

// TestGPUGoldenCUDA: stories260K's 48 golden ids from both paths on cuda,
// f32 and f16 storage, recorded and verified as goldens.
func TestGPUGoldenCUDA(t *testing.T) {
	needGPU(t)
	m := genStories(t)
	for _, act := range []string{"f32", "f16"} {
		g := filepath.Join(t.TempDir(), act+".golden.gguf")
		v := pctJSON(t, 0, "golden", "record", m, "--out", g, "--paths", "reference@cuda,dsl@cuda", "--tokens", "1", "-n", "48", "--act", act)
		st, _ := v["streams"].(map[string]any)
		for _, n := range []string{"reference", "dsl"} {
			var got []int32
			for _, x := range st[n].([]any) {
				got = append(got, int32(x.(float64)))
			}
			if !slices.Equal(got, testenv.StoriesGreedy()) {
				t.Errorf("%s %s@cuda: %v, want stories260K's 48 golden ids", act, n, got)
			}
		}
		pctJSON(t, 0, "golden", "verify", g, "--model", m)
	}
}

// TestGPUBenchProfile: bench --profile on cuda times every kernel with
// CUDA events; the table is logged.
func TestGPUBenchProfile(t *testing.T) {
	needGPU(t)
	q := gpuSynth(t, "tiny-qwen2", gguf.TypeF16)
	for _, path := range []string{"reference", "dsl"} {
		v := pctJSON(t, 0, "bench", q, "--backend", "cuda", "--path", path, "--profile", "--prompt-len", "16", "-n", "16", "--reps", "1")
		prof, _ := v["profile"].(map[string]any)
		if prof["timer"] != "gpu events" {
			t.Errorf("%s: timer %v, want gpu events", path, prof["timer"])
		}
		if ks, _ := prof["kernels"].([]any); len(ks) == 0 {
			t.Errorf("%s: no kernels", path)
		}
		gpuLog(t, 0, "bench", q, "--backend", "cuda", "--path", path, "--profile", "--prompt-len", "16", "-n", "16", "--reps", "1")
	}
}
