package model

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
)

func TestStories260KConfig(t *testing.T) {
	m, err := Open(repoFile(t, "testdata/stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := Config{Arch: "llama", Name: "llama", Dim: 64, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8,
		FF: 172, Vocab: 512, ContextLen: 2048, RopeBase: 10000, RopeDim: 8, RopeStyle: RopeNormal,
		NormEps: 1e-5}
	if !reflect.DeepEqual(m.Config, want) {
		t.Fatalf("config\n got %+v\nwant %+v", m.Config, want)
	}
	w := m.Weights
	if len(w.Layers) != 5 || w.Output.Name != "output.weight" || w.Embd.N != 512 || w.Embd.K != 64 {
		t.Fatalf("weights: %d layers, output %q, embd K=%d N=%d", len(w.Layers), w.Output.Name, w.Embd.K, w.Embd.N)
	}
	l := w.Layers[4]
	for _, c := range []struct {
		w    Weight
		k, n int
	}{{l.Q, 64, 64}, {l.K, 64, 32}, {l.V, 64, 32}, {l.O, 64, 64}, {l.Gate, 64, 172}, {l.Down, 172, 64}, {l.AttnNorm, 64, 1}} {
		if c.w.K != c.k || c.w.N != c.n || len(c.w.Data) != 4*c.k*c.n || c.w.Type != gguf.TypeF32 {
			t.Errorf("%s: K=%d N=%d bytes=%d type %v, want %d %d %d F32", c.w.Name, c.w.K, c.w.N, len(c.w.Data), c.w.Type, c.k, c.n, 4*c.k*c.n)
		}
	}
	if l.QBias.Data != nil || l.QNorm.Data != nil {
		t.Error("llama bound optional bias/norm tensors")
	}
}

func TestConfigDefaultsAndArchs(t *testing.T) {
	t.Run("qwen2 defaults", func(t *testing.T) {
		fk := &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.head_count_kv": nil}}
		fk.cfg.KVHeads = 4 // tensors shaped for kv = heads, since the key is absent
		c, err := LoadConfig(fk.file(t))
		if err != nil {
			t.Fatal(err)
		}
		if c.RopeBase != 10000 || c.KVHeads != 4 || c.HeadDim != 8 || c.RopeDim != 8 || c.RopeStyle != RopeNeoX ||
			!c.QKVBias || c.QKNorm || !c.TiedOutput || c.Vocab != 40 {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("qwen3 key_length", func(t *testing.T) {
		cfg := Config{Arch: "qwen3", Dim: 32, Layers: 1, Heads: 4, KVHeads: 2, HeadDim: 16, FF: 48, Vocab: 40,
			ContextLen: 64, NormEps: 1e-6, QKNorm: true, TiedOutput: true}
		fk := &fake{cfg: cfg, meta: map[string]any{"qwen3.attention.key_length": uint32(16),
			"qwen3.attention.value_length": uint32(16), "qwen3.rope.freq_base": float32(1e6)}}
		m, err := FromFile(fk.file(t))
		if err != nil {
			t.Fatal(err)
		}
		c := m.Config
		if c.HeadDim != 16 || c.RopeDim != 16 || c.RopeBase != 1e6 || !c.QKNorm || c.QKVBias || c.RopeStyle != RopeNeoX || !c.TiedOutput {
			t.Fatalf("got %+v", c)
		}
		if m.Weights.Layers[0].QNorm.K != 16 || m.Weights.Layers[0].Q.N != 64 || m.Weights.Layers[0].O.K != 64 {
			t.Fatalf("qwen3 weights: %+v", m.Weights.Layers[0].Q)
		}
		if m.Weights.Output.Name != "token_embd.weight" {
			t.Fatalf("tied output bound to %q", m.Weights.Output.Name)
		}
	})
	t.Run("per-layer array all equal", func(t *testing.T) {
		fk := &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.feed_forward_length": []int32{48, 48}}}
		c, err := LoadConfig(fk.file(t))
		if err != nil || c.FF != 48 {
			t.Fatalf("FF %v, err %v", c, err)
		}
	})
	if got := Architectures(); !reflect.DeepEqual(got, []string{"llama", "qwen2", "qwen3"}) {
		t.Fatalf("Architectures() = %v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		fk   *fake
		is   error
		want []string
	}{
		{"unknown arch", &fake{cfg: Config{Arch: "gpt2", Dim: 8, Vocab: 4, FF: 8, Heads: 1, KVHeads: 1, HeadDim: 8}, noBasic: true}, ErrUnsupported,
			[]string{`"gpt2"`, "llama, qwen2, qwen3"}},
		{"missing arch", &fake{cfg: tinyQwen2(), meta: map[string]any{"general.architecture": nil}}, ErrInvalid,
			[]string{"general.architecture is missing"}},
		{"missing key", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.block_count": nil}}, ErrInvalid,
			[]string{"qwen2.block_count is missing"}},
		{"missing eps", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.layer_norm_rms_epsilon": nil}}, ErrInvalid,
			[]string{"layer_norm_rms_epsilon is missing"}},
		{"string as int", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.embedding_length": "32"}}, ErrInvalid,
			[]string{"qwen2.embedding_length is string"}},
		{"gqa", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.head_count_kv": uint32(3)}}, ErrInvalid,
			[]string{"head_count 4 is not a multiple of head_count_kv 3"}},
		{"zero layers and huge ff", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.block_count": uint32(0), "qwen2.feed_forward_length": uint64(1 << 40)}}, ErrInvalid,
			[]string{"feed_forward_length = 1099511627776"}},
		{"zero layers", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.block_count": uint32(0)}}, ErrInvalid,
			[]string{"block_count = 0"}},
		{"d not divisible", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.head_count": uint32(5), "qwen2.attention.head_count_kv": uint32(5)}}, ErrInvalid,
			[]string{"embedding_length 32 is not divisible by head_count 5"}},
		{"odd rope dim", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.rope.dimension_count": uint32(7)}}, ErrInvalid,
			[]string{"rope.dimension_count = 7"}},
		{"eps and base", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.layer_norm_rms_epsilon": float32(0), "qwen2.rope.freq_base": float32(-1)}}, ErrInvalid,
			[]string{"layer_norm_rms_epsilon = 0", "rope.freq_base = -1"}},
		{"per-layer ff", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.feed_forward_length": []int32{48, 64}}}, ErrUnsupported,
			[]string{"varies per layer"}},
		{"rope scaling", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.rope.scaling.type": "yarn"}}, ErrUnsupported,
			[]string{"yarn"}},
		{"value_length", &fake{cfg: tinyQwen2(), meta: map[string]any{"qwen2.attention.value_length": uint32(16)}}, ErrUnsupported,
			[]string{"value_length 16"}},
		{"no embedding", &fake{cfg: tinyQwen2(), skip: map[string]bool{"token_embd.weight": true}}, ErrInvalid,
			[]string{"token_embd.weight is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig(c.fk.file(t))
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir + "/missing.gguf"); err == nil {
		t.Fatal("opened a missing file")
	}
	fk := &fake{cfg: tinyQwen2(), skip: map[string]bool{"blk.1.ffn_up.weight": true}}
	b := fk.file(t)
	w := gguf.NewWriter()
	for _, kv := range b.KV {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range b.Tensors {
		ti := &b.Tensors[i]
		if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, b.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	p := dir + "/bad.gguf"
	if err := w.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	_, err := Open(p)
	assert.ErrorIs(t, err, ErrBind)
	assert.ErrorContains(t, err, p)
	assert.ErrorContains(t, err, "blk.1.ffn_up.weight")
}

// TestConfigNoPanic feeds random hyper-parameter values (zero, huge,
// negative, wrong types) to LoadConfig and Bind: they must return errors,
// never panic.
func TestConfigNoPanic(t *testing.T) {
	keys := []string{"context_length", "embedding_length", "block_count", "feed_forward_length",
		"attention.head_count", "attention.head_count_kv", "attention.key_length", "rope.dimension_count",
		"attention.layer_norm_rms_epsilon", "rope.freq_base"}
	vals := []any{uint32(0), uint32(1), uint32(3), uint64(1 << 62), int32(-4), int64(-1), float32(-1),
		float32(1e30), "x", true, []int32{}, []int32{7, 7}, []string{"a"}, uint32(1 << 20)}
	seed := uint64(1)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for range 300 {
		meta := map[string]any{}
		for range 1 + next(3) {
			meta["qwen2."+keys[next(len(keys))]] = vals[next(len(vals))]
		}
		f := (&fake{cfg: tinyQwen2(), meta: meta}).file(t)
		cfg, err := LoadConfig(f)
		if err != nil {
			continue
		}
		_, _ = Bind(f, cfg)
	}
}
