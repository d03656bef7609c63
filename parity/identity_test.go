package parity

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
)

// TestInexactWeights: matrices whose matmul the reference does not
// reproduce bit for bit are named, so fidelity reports instead of failing.
func TestInexactWeights(t *testing.T) {
	m := &model.Model{}
	m.Weights.Output = model.Weight{Name: "output.weight", Type: gguf.TypeQ6_K, K: 256, N: 512, Data: []byte{0}}
	m.Weights.Layers = []model.Layer{{
		Q:    model.Weight{Name: "blk.0.attn_q.weight", Type: gguf.TypeQ4_K, K: 256, N: 256, Data: []byte{0}},
		K:    model.Weight{Name: "blk.0.attn_k.weight", Type: gguf.TypeQ4_K, K: 256, N: 100, Data: []byte{0}},
		V:    model.Weight{Name: "blk.0.attn_v.weight", Type: gguf.TypeQ5_K, K: 256, N: 128, Data: []byte{0}},
		O:    model.Weight{Name: "blk.0.attn_output.weight", Type: gguf.TypeQ8_0, K: 256, N: 256, Data: []byte{0}},
		Gate: model.Weight{Name: "blk.0.ffn_gate.weight", Type: gguf.TypeBF16, K: 256, N: 768, Data: []byte{0}},
	}}
	got := strings.Join(inexactWeights(m, true), "; ")
	if want := "blk.0.attn_k.weight (Q4_K); blk.0.attn_v.weight (Q5_K)"; got != want {
		t.Errorf("inexact weights %q, want %q", got, want)
	}
	// Without AVX512_BF16, BF16 matrices are not reproduced either.
	got = strings.Join(inexactWeights(m, false), "; ")
	if want := "blk.0.attn_k.weight (Q4_K); blk.0.attn_v.weight (Q5_K); blk.0.ffn_gate.weight (BF16)"; got != want {
		t.Errorf("inexact weights without AVX512_BF16 %q, want %q", got, want)
	}
}

// TestBitIdentity: only the reference under ggml-cpu and llama.cpp (on an
// AVX-512 build, for reproduced weights) promise bit identity; under
// plain, and between any other pair, nothing does.
func TestBitIdentity(t *testing.T) {
	m := openStories(t)
	path := func(name, declare string) *fakePath {
		p := newFake(t, name, m)
		p.declare = declare
		return p
	}
	lc := path("llamacpp", model.NumericsLlamaCpp)
	for _, c := range []struct {
		a, b *fakePath
		why  string
	}{
		{path("reference", "plain"), lc, "plain numerics profile"},
		{path("dsl", "ggml-cpu"), lc, "no bit identity is promised between"},
		{path("reference", "ggml-cpu"), path("dsl", "ggml-cpu"), "no bit identity is promised"},
	} {
		for _, pair := range [][2]*fakePath{{c.a, c.b}, {c.b, c.a}} {
			p := BitIdentity(pair[0], pair[1], m)
			if p.BitIdentical || !strings.Contains(p.Why, c.why) {
				t.Errorf("%s (%s) vs %s (%s): %+v, want no promise because %q", pair[0].Name(), pair[0].Numerics(),
					pair[1].Name(), pair[1].Numerics(), p, c.why)
			}
		}
	}
	// The promised pair: it holds exactly where llama.cpp runs an AVX-512
	// build (stories260K is F32, reproduced everywhere).
	p := BitIdentity(path("reference", "ggml-cpu"), lc, m)
	v, err := llamacpp.CPUVariant()
	want := err == nil && llamacpp.AVX512Variant(v)
	if p.BitIdentical != want {
		t.Errorf("reference (ggml-cpu) vs llamacpp on libggml-cpu %q (%v): %+v, want bit_identical %v", v, err, p, want)
	}
	t.Logf("reference (ggml-cpu) vs llamacpp: %+v", p)
}
