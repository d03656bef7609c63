package dsl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// TestKVCacheDType: --kv sets the cache's storage apart from the
// activations'. The caches are allocated in the KV dtype; k_rope and v
// still reach the hook in activation storage (staged, then copied into the
// cache); and attn_out is the attention of what the cache holds: the
// float64 attention of the captured q_rope, k_rope and v, the latter two
// rounded to f16 for an f16 cache, to float32 accuracy — closer than the
// f16 rounding of k and v itself, so reading an f32 cache would fail it.
func TestKVCacheDType(t *testing.T) {
	tokens := []int32{5, 17, 96, 0, 42, 42, 7}
	for _, arch := range []string{"llama", "qwen3"} {
		m := tinyOf(arch, gguf.TypeF32).open(t)
		for _, c := range []struct{ act, kv string }{{"f32", "f16"}, {"f16", "f32"}, {"f32", "f32"}} {
			t.Run(fmt.Sprintf("%s/act-%s/kv-%s", arch, c.act, c.kv), func(t *testing.T) {
				e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: c.act, KVDType: c.kv, Ctx: 16}})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				want := kernel.ActType(c.kv == "f16")
				for name, a := range e.caches {
					if a.Elem != want {
						t.Fatalf("cache %s is stored as %v, want %v", name, a.Elem, want)
					}
				}
				got, _ := capture(t, e, tokens, 5)
				ev, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: tokens, KVF16: c.kv == "f16",
					Captured: func(name string) ([]float64, bool) {
						v, ok := got[name]
						out := make([]float64, len(v))
						for i, x := range v {
							out[i] = float64(x)
						}
						return out, ok
					}})
				if err != nil {
					t.Fatal(err)
				}
				tol := 2e-5
				if c.act == "f16" {
					tol = 2e-3 // attn_out itself is stored in f16
				}
				for l := range m.Config.Layers {
					name := model.CheckpointName("attn_out", l)
					r, err := ev.Compute(name)
					if err != nil {
						t.Fatal(err)
					}
					closeTo(t, name, got[name], r.Data, tol)
				}
			})
		}
	}
}

// TestNoFlashAttention: the dsl path has no flash-attention kernel, so
// asking for one is an error (model.CheckFlashAttn), never ignored.
func TestNoFlashAttention(t *testing.T) {
	m := openStories(t)
	for _, open := range []func() error{
		func() error { _, err := New(m, Options{PathOptions: model.PathOptions{FlashAttn: true}}); return err },
		func() error { _, err := model.OpenPath("dsl", m, model.PathOptions{FlashAttn: true}); return err },
	} {
		if err := open(); err == nil || !strings.Contains(err.Error(), "flash attention does not apply to the dsl path") {
			t.Errorf("dsl with flash attention: err = %v, want the dsl refusal", err)
		}
	}
}
