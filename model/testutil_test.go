package model

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// repoFile returns the path of a file relative to the repository root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, me, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(me), "..", rel)
}

// fake describes a small model file for tests: metadata plus F32 zero
// tensors named and shaped from a Config, with edits.
type fake struct {
	cfg     Config
	meta    map[string]any // extra or overriding metadata; nil value deletes
	skip    map[string]bool
	shapes  map[string][]int64
	types   map[string]gguf.Type
	extra   []string // additional 1-D tensors of 4 elements
	noBasic bool     // write no hyper-parameter keys at all
}

func (fk *fake) tensors() (names []string, shapes [][]int64) {
	c := &fk.cfg
	add := func(n string, s ...int64) { names = append(names, n); shapes = append(shapes, s) }
	d, hd := int64(c.Dim), int64(c.HeadDim)
	qd, kvd := int64(c.Heads)*hd, int64(c.KVHeads)*hd
	add("token_embd.weight", d, int64(c.Vocab))
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", d)
		add(p+"attn_q.weight", d, qd)
		add(p+"attn_k.weight", d, kvd)
		add(p+"attn_v.weight", d, kvd)
		if c.QKVBias {
			add(p+"attn_q.bias", qd)
			add(p+"attn_k.bias", kvd)
			add(p+"attn_v.bias", kvd)
		}
		if c.QKNorm {
			add(p+"attn_q_norm.weight", hd)
			add(p+"attn_k_norm.weight", hd)
		}
		add(p+"attn_output.weight", qd, d)
		add(p+"ffn_norm.weight", d)
		add(p+"ffn_gate.weight", d, int64(c.FF))
		add(p+"ffn_up.weight", d, int64(c.FF))
		add(p+"ffn_down.weight", int64(c.FF), d)
	}
	add("output_norm.weight", d)
	if !c.TiedOutput {
		add("output.weight", d, int64(c.Vocab))
	}
	return names, shapes
}

// file builds the GGUF in memory and parses it.
func (fk *fake) file(t *testing.T) *gguf.File {
	t.Helper()
	c := &fk.cfg
	a := c.Arch
	meta := map[string]any{}
	order := []string{"general.architecture"}
	meta["general.architecture"] = a
	if !fk.noBasic {
		for _, kv := range []struct {
			k string
			v any
		}{
			{a + ".context_length", uint32(c.ContextLen)},
			{a + ".embedding_length", uint32(c.Dim)},
			{a + ".block_count", uint32(c.Layers)},
			{a + ".feed_forward_length", uint32(c.FF)},
			{a + ".attention.head_count", uint32(c.Heads)},
			{a + ".attention.head_count_kv", uint32(c.KVHeads)},
			{a + ".attention.layer_norm_rms_epsilon", c.NormEps},
		} {
			meta[kv.k] = kv.v
			order = append(order, kv.k)
		}
	}
	for k, v := range fk.meta {
		if _, ok := meta[k]; !ok {
			order = append(order, k)
		}
		meta[k] = v
	}
	w := gguf.NewWriter()
	for _, k := range order {
		if v := meta[k]; v != nil {
			if err := w.AddKV(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	names, shapes := fk.tensors()
	for _, e := range fk.extra {
		names = append(names, e)
		shapes = append(shapes, []int64{4})
	}
	for i, n := range names {
		if fk.skip[n] {
			continue
		}
		s := shapes[i]
		if o, ok := fk.shapes[n]; ok {
			s = o
		}
		typ := gguf.TypeF32
		if o, ok := fk.types[n]; ok {
			typ = o
		}
		el := int64(1)
		for _, x := range s {
			el *= x
		}
		rb, err := gguf.RowBytes(typ, int(s[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(n, typ, s, make([]byte, int64(rb)*el/s[0])); err != nil {
			t.Fatal(err)
		}
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// tinyQwen2 is a small valid qwen2 config.
func tinyQwen2() Config {
	return Config{Arch: "qwen2", Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, FF: 48,
		Vocab: 40, ContextLen: 128, RopeBase: 10000, RopeDim: 8, RopeStyle: RopeNeoX,
		NormEps: 1e-6, QKVBias: true, TiedOutput: true}
}
