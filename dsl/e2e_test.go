package dsl

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
)

// capture runs tokens through e in two calls (a prefill and a decode step)
// and returns every checkpoint the hook saw, rows concatenated by position.
func capture(t *testing.T, e *Executor, tokens []int32, split int) (map[string][]float32, []float32) {
	t.Helper()
	got := map[string][]float32{}
	e.SetHook(func(ts *model.Tensor) {
		got[ts.Name] = append(got[ts.Name], ts.Data...)
	})
	defer e.SetHook(nil)
	l1, err := e.Forward(tokens[:split], 0)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := e.Forward(tokens[split:], split)
	if err != nil {
		t.Fatal(err)
	}
	return got, append(l1, l2...)
}

// Every checkpoint the fused path materializes, on every architecture,
// matches the unfused float64 oracle.
func TestTinyModelsAgainstOracle(t *testing.T) {
	tokens := []int32{5, 17, 96, 0, 42, 42, 7}
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeQ4_K} {
			m := tinyOf(arch, dt).open(t)
			want := oracle64(t, m, tokens)
			for _, act := range []string{"f32", "f16"} {
				t.Run(fmt.Sprintf("%s/%s/%s", arch, dt, act), func(t *testing.T) {
					e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: act, Ctx: 16, Numerics: "plain"}})
					if err != nil {
						t.Fatal(err)
					}
					defer e.Close()
					got, logits := capture(t, e, tokens, 5)
					tol := 2e-4
					if act == "f16" {
						tol = 1.5e-2
					}
					closeTo(t, "logits (returned)", logits, want["logits"], tol)
					kinds := e.Checkpoints()
					// llama and qwen2 fuse RoPE into the QKV projection
					// (rmsnorm_qkv_rope: q and k fused away); qwen3's
					// per-head norms come between, so it stores q and k.
					wantKinds, perBlock := "embd v q_rope k_rope attn_out ffn_inp ffn_act l_out logits", 7
					if arch == "qwen3" {
						wantKinds, perBlock = "embd q k v q_rope k_rope attn_out ffn_inp ffn_act l_out logits", 9
					}
					if strings.Join(kinds, " ") != wantKinds {
						t.Fatalf("Checkpoints() = %v, want %s", kinds, wantKinds)
					}
					if len(got) != 2+perBlock*m.Config.Layers {
						t.Fatalf("hook saw %d checkpoints, want %d", len(got), 2+perBlock*m.Config.Layers)
					}
					for name, v := range got {
						closeTo(t, name, v, want[name], tol)
					}
				})
			}
		}
	}
}

// The CPU results are bit-identical for any number of threads.
func TestDeterministicAcrossThreads(t *testing.T) {
	for _, dt := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeF16, gguf.TypeQ4_K} {
		t.Run(dt.String(), func(t *testing.T) {
			m := tinyOf("qwen2", dt).open(t)
			tokens := []int32{1, 2, 3, 50, 60}
			var ref []float32
			for _, threads := range []int{1, 2, 5} {
				e, err := New(m, Options{PathOptions: model.PathOptions{Threads: threads, Ctx: 8, ActDType: "f16"}})
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.Forward(tokens, 0)
				if err == nil {
					// A decode step too: the GEMV spans of one token.
					var last []float32
					last, err = e.Forward([]int32{7}, len(tokens))
					got = append(append([]float32(nil), got...), last...)
				}
				e.Close()
				if err != nil {
					t.Fatal(err)
				}
				if ref == nil {
					ref = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("threads=%d: logit %d = %g, threads=1 gave %g", threads, i, got[i], ref[i])
					}
				}
			}
		})
	}
}

// A hook that only reads changes nothing; a perturbation written back by
// the hook propagates to the logits.
func TestHookObserveAndPerturb(t *testing.T) {
	m := openStories(t)
	e, err := New(m, Options{PathOptions: model.PathOptions{Ctx: 8}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tokens := []int32{1, 403, 407}
	plain, err := e.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.Reset()
	seen := 0
	e.SetHook(func(*model.Tensor) { seen++ })
	observed, err := e.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	// embd and logits, and per block v, q_rope, k_rope, attn_out, ffn_inp,
	// ffn_act, l_out (q and k are fused away by rmsnorm_qkv_rope).
	if !slices.Equal(plain, observed) || seen != 2+7*m.Config.Layers {
		t.Fatalf("observing hook changed logits or saw %d checkpoints", seen)
	}
	e.Reset()
	e.SetHook(func(ts *model.Tensor) {
		if ts.Name == "blk.2.ffn_act" {
			for i := range ts.Data {
				ts.Data[i] *= 1.5
			}
		}
	})
	perturbed, err := e.Forward(tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(plain, perturbed) {
		t.Fatal("perturbing blk.2.ffn_act did not change the logits")
	}
}

func TestForwardErrors(t *testing.T) {
	m := openStories(t)
	e, err := New(m, Options{PathOptions: model.PathOptions{Ctx: 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct {
		tokens []int32
		pos    int
		want   string
	}{
		{[]int32{1}, 1, "position"},
		{[]int32{1, 2, 3, 4, 5}, 0, "context"},
		{[]int32{512}, 0, "out of range"},
		{nil, 0, "no tokens"},
	} {
		if _, err := e.Forward(c.tokens, c.pos); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%v, %d) error = %v, want %q", c.tokens, c.pos, err, c.want)
		}
	}
}

// Every composed kernel of every embedded spec, for every GPU weight dtype,
// both activation dtypes and both numerics profiles (plain adds the tiled
// GEMM kernels and the powf RoPE angles), parses in MSL and in CUDA, and
// passes clang's CUDA device-mode checks (CUDA's rules; the stage matrix
// of dsl/kernel also generates PTX); so does every kernel of the unfused
// programs (each stage its own kernel: Copy prologues, Pointwise
// epilogues).
func TestClangEverySpecKernel(t *testing.T) {
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, fmt.Sprint(err))
	}
	srcs := map[kernel.Dialect][]clangcheck.Source{}
	seen := map[string]bool{}
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		for _, dt := range gpuTypes {
			m := tinyOf(arch, dt).open(t)
			for _, act := range []string{"f32", "f16"} {
				for _, num := range []string{"plain", "ggml-cpu"} {
					for _, unfuse := range []bool{false, true} {
						e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: act, Ctx: 8, Numerics: num, Unfuse: unfuse}})
						if err != nil {
							t.Fatalf("%s %s %s %s (unfuse %v): %v", arch, dt, act, num, unfuse, err)
						}
						ks := e.Kernels()
						if dt == gguf.TypeF32 && act == "f32" {
							t.Logf("%s spec, %s: %d distinct kernels, %d dispatches per forward (%d layers)", arch, num, len(ks), len(e.ops), m.Config.Layers)
						}
						for _, k := range ks {
							if seen[k.MSL] {
								continue
							}
							seen[k.MSL] = true
							srcs[kernel.MSL] = append(srcs[kernel.MSL], clangcheck.Source{Name: k.Name, Code: k.MSL})
							srcs[kernel.CUDA] = append(srcs[kernel.CUDA], clangcheck.Source{Name: k.Name, Code: k.CUDA})
						}
						e.Close()
					}
				}
			}
		}
	}
	for _, d := range []kernel.Dialect{kernel.MSL, kernel.CUDA} {
		if err := clangcheck.Check(d.String(), srcs[d]); err != nil {
			t.Fatal(err)
		}
	}
	if err := clangcheck.CheckCUDADevice(srcs[kernel.CUDA]); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d distinct kernels parsed in MSL and CUDA, checked as CUDA device code", len(srcs[kernel.MSL]))
}
