package dsl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// tiny describes a small random model written to GGUF for tests.
type tiny struct {
	arch                       string
	dim, layers, heads, kv, ff int
	vocab                      int
	dtype                      gguf.Type
}

func (c tiny) hd() int { return c.dim / c.heads }

// write creates the GGUF file and opens it.
func (c tiny) open(t testing.TB) *model.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(c.dtype)))
	w := gguf.NewWriter()
	kv := func(k string, v any) {
		if err := w.AddKV(k, v); err != nil {
			t.Fatal(err)
		}
	}
	kv("general.architecture", c.arch)
	a := c.arch + "."
	kv(a+"embedding_length", uint32(c.dim))
	kv(a+"block_count", uint32(c.layers))
	kv(a+"feed_forward_length", uint32(c.ff))
	kv(a+"context_length", uint32(1024))
	kv(a+"attention.head_count", uint32(c.heads))
	kv(a+"attention.head_count_kv", uint32(c.kv))
	kv(a+"attention.layer_norm_rms_epsilon", float32(1e-5))
	kv(a+"rope.freq_base", float32(10000))
	tensor := func(name string, t2 gguf.Type, k, n int, scale, offset float64) {
		src := make([]float32, k*n)
		for i := range src {
			src[i] = float32(offset + rng.NormFloat64()*scale)
		}
		data, err := gguf.Quantize(t2, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		shape := []int64{int64(k), int64(n)}
		if n == 1 {
			shape = shape[:1]
		}
		if err := w.AddTensor(name, t2, shape, data); err != nil {
			t.Fatal(err)
		}
	}
	d, hd, q, kvd := c.dim, c.hd(), c.heads*c.hd(), c.kv*c.hd()
	mat := 1 / math.Sqrt(float64(d))
	tensor("token_embd.weight", c.dtype, d, c.vocab, 1, 0)
	for i := 0; i < c.layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		tensor(p+"attn_norm.weight", gguf.TypeF32, d, 1, 0.1, 1)
		tensor(p+"attn_q.weight", c.dtype, d, q, mat, 0)
		tensor(p+"attn_k.weight", c.dtype, d, kvd, mat, 0)
		tensor(p+"attn_v.weight", c.dtype, d, kvd, mat, 0)
		if c.arch == "qwen2" {
			tensor(p+"attn_q.bias", gguf.TypeF32, q, 1, 0.5, 0)
			tensor(p+"attn_k.bias", gguf.TypeF32, kvd, 1, 0.5, 0)
			tensor(p+"attn_v.bias", gguf.TypeF32, kvd, 1, 0.5, 0)
		}
		if c.arch == "qwen3" {
			tensor(p+"attn_q_norm.weight", gguf.TypeF32, hd, 1, 0.1, 1)
			tensor(p+"attn_k_norm.weight", gguf.TypeF32, hd, 1, 0.1, 1)
		}
		tensor(p+"attn_output.weight", c.dtype, q, d, mat, 0)
		tensor(p+"ffn_norm.weight", gguf.TypeF32, d, 1, 0.1, 1)
		tensor(p+"ffn_gate.weight", c.dtype, d, c.ff, mat, 0)
		tensor(p+"ffn_up.weight", c.dtype, d, c.ff, mat, 0)
		tensor(p+"ffn_down.weight", c.dtype, c.ff, d, 1/math.Sqrt(float64(c.ff)), 0)
	}
	tensor("output_norm.weight", gguf.TypeF32, d, 1, 0.1, 1)
	if c.arch != "qwen2" { // qwen2 ties the LM head to the embedding
		tensor("output.weight", c.dtype, d, c.vocab, mat, 0)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("tiny-%s-%s.gguf", c.arch, c.dtype))
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func tinyOf(arch string, dt gguf.Type) tiny {
	return tiny{arch: arch, dim: 256, layers: 2, heads: 4, kv: 2, ff: 512, vocab: 97, dtype: dt}
}

// gpuTypes are the weight dtypes whose kernels have GPU sources.
var gpuTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K}
