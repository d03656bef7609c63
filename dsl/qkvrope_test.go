package dsl

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// unfusedSpec returns the embedded spec of arch with its
// rmsnorm_qkv_rope step split into rmsnorm_qkv and rope_cache (q and k
// stored, then rotated by their own kernels).
func unfusedSpec(t *testing.T, arch string) string {
	t.Helper()
	data, err := EmbeddedSpec(arch)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	split := 0
	for _, st := range s["forward"].([]any) {
		rep := st.(map[string]any)
		if rep["op"] != "repeat" {
			continue
		}
		var steps []any
		for _, x := range rep["steps"].([]any) {
			f := x.(map[string]any)
			if f["op"] != "rmsnorm_qkv_rope" {
				steps = append(steps, f)
				continue
			}
			qkv := map[string]any{"op": "rmsnorm_qkv", "q": "q", "k": "k"}
			rope := map[string]any{"op": "rope_cache", "q": "q", "k": "k"}
			for k, v := range f {
				switch k {
				case "op":
				case "q_out", "k_cache", "heads", "kv_heads", "head_dim", "rope_dim", "base", "style":
					rope[k] = v
				default:
					qkv[k] = v
				}
			}
			steps = append(steps, qkv, rope)
			split++
		}
		rep["steps"] = steps
	}
	if split != 1 {
		t.Fatalf("%s: %d rmsnorm_qkv_rope steps split, want 1", arch, split)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), arch+".json")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestQKVRopeMatchesUnfused: the embedded specs' rmsnorm_qkv_rope (RoPE
// fused into the decode GEMV; a prefill's tiled GEMM followed by the RoPE
// kernels) computes on the cpu backend bit for bit what rmsnorm_qkv
// followed by rope_cache computes — a 5-token prefill and three decode
// steps, under both profiles, f32 and f16 activations, with an f16 KV
// cache under f32 activations (nothing fused then) — and decode steps
// dispatch two kernels fewer per block.
func TestQKVRopeMatchesUnfused(t *testing.T) {
	for _, arch := range []string{"qwen2", "llama"} {
		m := tinyOf(arch, gguf.TypeQ8_0).open(t)
		spec := unfusedSpec(t, arch)
		for _, c := range []struct{ num, act, kv string }{
			{"plain", "f32", ""}, {"plain", "f16", ""}, {"ggml-cpu", "f32", ""}, {"ggml-cpu", "f16", ""}, {"plain", "f32", "f16"},
		} {
			t.Run(arch+"/"+c.num+"/"+c.act+"/kv="+c.kv, func(t *testing.T) {
				opts := model.PathOptions{Numerics: c.num, ActDType: c.act, KVDType: c.kv, Ctx: 16}
				fused, err := New(m, Options{PathOptions: opts})
				if err != nil {
					t.Fatal(err)
				}
				defer fused.Close()
				unfused, err := New(m, Options{PathOptions: opts, Spec: spec})
				if err != nil {
					t.Fatal(err)
				}
				defer unfused.Close()
				calls := [][]int32{{1, 5, 9, 2, 7}, {3}, {4}, {8}}
				pos := 0
				for i, toks := range calls {
					a, err := fused.Forward(toks, pos)
					if err != nil {
						t.Fatal(err)
					}
					b, err := unfused.Forward(toks, pos)
					if err != nil {
						t.Fatal(err)
					}
					for j := range a {
						if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
							t.Fatalf("call %d, logit %d: fused %v, unfused %v", i, j, a[j], b[j])
						}
					}
					pos += len(toks)
				}
				fusedN, unfusedN := dispatches(fused, 1), dispatches(unfused, 1)
				want := unfusedN - 2*m.Config.Layers
				if c.kv != "" {
					want = unfusedN // a cache of another dtype: nothing fused
				}
				if fusedN != want {
					t.Errorf("a decode step dispatches %d kernels fused, %d unfused; want %d fused", fusedN, unfusedN, want)
				}
			})
		}
	}
}

// dispatches counts the kernels a call of T tokens dispatches.
func dispatches(e *Executor, T int) int {
	n := 0
	for i, op := range e.ops {
		r := e.run(i, T, false)
		if op.Skip == nil || !op.Skip(r) {
			n++
		}
	}
	return n
}
