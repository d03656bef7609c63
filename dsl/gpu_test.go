package dsl

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/cuda"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
)

// needGPU skips (or, under METALLIC_REQUIRE_CUDA=1, fails) without a CUDA
// GPU.
func needGPU(tb testing.TB) {
	tb.Helper()
	be, err := backend.Open("cuda")
	if err != nil {
		testenv.NeedCUDA(tb, err.Error())
	}
	be.Close()
}

// cudaOf returns the cuda backend an executor runs on.
func cudaOf(tb testing.TB, e *Executor) *cuda.Backend {
	tb.Helper()
	cb, ok := e.be.(*cuda.Backend)
	if !ok {
		tb.Fatalf("the executor runs on %T, not the cuda backend", e.be)
	}
	return cb
}

// TestGPUMatchesCPU: on a real GPU, every generated kernel compiles and the
// dsl path on cuda computes what it computes on the cpu backend under
// plain: tiny llama, qwen2 and qwen3 models in every GPU weight dtype with
// f32 activations (and F16, Q8_0 weights with f16 activations too), a
// 6-token prefill (the tiled GEMM form) then three decode steps (the GEMV
// form), logits within 1e-3 of rms+|logit| (1e-2 with f16 storage, whose
// roundings flip where the summation orders differ).
func TestGPUMatchesCPU(t *testing.T) {
	needGPU(t)
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		for _, dt := range gpuTypes {
			m := tinyOf(arch, dt).open(t)
			acts := []string{"f32"}
			if dt == gguf.TypeF16 || dt == gguf.TypeQ8_0 {
				acts = append(acts, "f16")
			}
			for _, act := range acts {
				t.Run(fmt.Sprintf("%s/%v/%s", arch, dt, act), func(t *testing.T) {
					tol := 1e-3
					if act == "f16" {
						tol = 1e-2
					}
					var paths []*Executor
					for _, be := range []string{"cpu", "cuda"} {
						e, err := New(m, Options{PathOptions: model.PathOptions{Backend: be, ActDType: act, Ctx: 16, Numerics: "plain"}})
						if err != nil {
							t.Fatal(err)
						}
						defer e.Close()
						paths = append(paths, e)
					}
					calls := []struct {
						tokens []int32
						pos    int
					}{{[]int32{1, 40, 7, 12, 90, 3}, 0}, {[]int32{61}, 6}, {[]int32{5}, 7}, {[]int32{33}, 8}}
					for i, c := range calls {
						want, err := paths[0].Forward(c.tokens, c.pos)
						if err != nil {
							t.Fatal(err)
						}
						got, err := paths[1].Forward(c.tokens, c.pos)
						if err != nil {
							t.Fatal(err)
						}
						compareLogits(t, fmt.Sprint("call ", i), got, want, tol)
					}
				})
			}
		}
	}
}

func compareLogits(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	var rms float64
	for _, v := range want {
		rms += float64(v) * float64(v)
	}
	rms = math.Sqrt(rms / float64(len(want)))
	var worst float64
	for i := range want {
		d := math.Abs(float64(got[i]-want[i])) / (rms + math.Abs(float64(want[i])))
		if !(d <= tol) {
			t.Fatalf("%s: logit %d: cuda %g, cpu %g (rms %g)", what, i, got[i], want[i], rms)
		}
		worst = max(worst, d)
	}
	t.Logf("%s: worst |diff|/(rms+|ref|) = %.2g", what, worst)
}

// TestGPUStoriesGoldenAndGraphs: on cuda, the dsl path's greedy stream
// from BOS on stories260K is the 48 golden ids, in f32 and f16 storage,
// and from the third decode step on every step is replayed from one
// captured CUDA graph (positions are read from device memory, so the
// steps' launches repeat exactly).
func TestGPUStoriesGoldenAndGraphs(t *testing.T) {
	needGPU(t)
	m := openStories(t)
	for _, act := range []string{"f32", "f16"} {
		t.Run(act, func(t *testing.T) {
			e, err := New(m, Options{PathOptions: model.PathOptions{Backend: "cuda", ActDType: act, Ctx: 64}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			golden := testenv.StoriesGreedy()
			before := cudaOf(t, e).GraphStats()
			got := greedy(t, e, len(golden))
			if !slices.Equal(got, golden) {
				t.Errorf("greedy tokens\n got %v\nwant %v", got, golden)
			}
			st := cudaOf(t, e).GraphStats()
			if replayed := st.Replayed - before.Replayed; replayed < len(golden)-2 || st.Failed > before.Failed {
				t.Errorf("graphs over %d decode steps: %+v (before %+v); want ≥ %d replays and no failure", len(golden), st, before, len(golden)-2)
			}
			t.Logf("graph stats after %d steps: %+v", len(golden), st)
		})
	}
}

// TestGPUPrefill512: a 512-token prefill on cuda agrees with 512 one-token
// steps on cuda (the tiled GEMM and the long-context attention against the
// GEMV path) on tiny qwen2 in F16, for the last position's logits.
func TestGPUPrefill512(t *testing.T) {
	needGPU(t)
	m := tiny{arch: "qwen2", dim: 256, layers: 2, heads: 4, kv: 2, ff: 512, vocab: 97, dtype: gguf.TypeF16}.open(t)
	tokens := make([]int32, 512)
	for i := range tokens {
		tokens[i] = int32((1 + 7*i) % 97)
	}
	open := func() *Executor {
		e, err := New(m, Options{PathOptions: model.PathOptions{Backend: "cuda", Ctx: 600}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	a, b := open(), open()
	all, err := a.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	var last []float32
	for i, tok := range tokens {
		if last, err = b.Forward([]int32{tok}, i); err != nil {
			t.Fatal(err)
		}
	}
	compareLogits(t, "position 511", all[511*97:], last, 1e-3)
}
