package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
)

func TestBindOK(t *testing.T) {
	fk := &fake{cfg: tinyQwen2()}
	m, err := FromFile(fk.file(t))
	if err != nil {
		t.Fatal(err)
	}
	l := m.Weights.Layers[1]
	if l.QBias.K != 32 || l.QBias.N != 1 || len(l.QBias.Data) != 32*4 || l.KBias.K != 16 || l.Down.K != 48 || l.Down.N != 32 {
		t.Fatalf("layer 1: qbias %d/%d/%d kbias %d down %d/%d", l.QBias.K, l.QBias.N, len(l.QBias.Data), l.KBias.K, l.Down.K, l.Down.N)
	}
}

// TestBindManyProblems checks that one error names every problem at once.
func TestBindManyProblems(t *testing.T) {
	if gguf.TypeI32.CanDequantize() {
		t.Fatal("test assumes I32 cannot be dequantized")
	}
	fk := &fake{
		cfg:    tinyQwen2(),
		skip:   map[string]bool{"blk.1.attn_k.bias": true, "blk.0.ffn_up.weight": true},
		shapes: map[string][]int64{"blk.0.attn_q.weight": {32, 16}, "output_norm.weight": {32, 2}},
		types:  map[string]gguf.Type{"blk.1.ffn_norm.weight": gguf.TypeI32},
		extra:  []string{"rope_freqs.weight", "blk.0.attn_output.bias"},
	}
	_, err := FromFile(fk.file(t))
	require.ErrorIs(t, err, ErrBind)
	var be *BindError
	require.ErrorAs(t, err, &be)
	assert.ElementsMatch(t, []string{"blk.1.attn_k.bias", "blk.0.ffn_up.weight"}, be.Missing, "missing")
	assert.ElementsMatch(t, []string{"rope_freqs.weight", "blk.0.attn_output.bias"}, be.Unexpected, "unexpected")
	assert.Len(t, be.Shape, 2, "wrong shape")
	assert.Len(t, be.Type, 1, "unusable type")
	for _, want := range []string{
		"7 problem(s)",
		"blk.1.attn_k.bias", "blk.0.ffn_up.weight",
		"rope_freqs.weight", "blk.0.attn_output.bias",
		"blk.0.attn_q.weight: file [32 16], want [32 32] (K=32, N=32)",
		"output_norm.weight: file [32 2], want [32]",
		"blk.1.ffn_norm.weight: I32 cannot be dequantized",
	} {
		assert.ErrorContains(t, err, want)
	}
}

// TestBindTiedMismatch: a config that says tied while the file has
// output.weight (or untied without it) is caught.
func TestBindTiedMismatch(t *testing.T) {
	fk := &fake{cfg: tinyQwen2()}
	f := fk.file(t)
	cfg, err := LoadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TiedOutput = false
	_, err = Bind(f, cfg)
	assert.ErrorContains(t, err, "missing (1): output.weight")
	cfg.TiedOutput = true
	cfg.QKVBias = false
	_, err = Bind(f, cfg)
	var be *BindError
	require.ErrorAs(t, err, &be)
	assert.Len(t, be.Unexpected, 6, "the biases of a model declared without them: %v", be.Unexpected)
}

func TestShapeIs(t *testing.T) {
	cases := []struct {
		shape []int64
		k, n  int
		want  bool
	}{
		{[]int64{8}, 8, 1, true},
		{[]int64{8, 1}, 8, 1, true},
		{[]int64{8, 1, 1}, 8, 1, true},
		{[]int64{8, 4}, 8, 4, true},
		{[]int64{4, 8}, 8, 4, false},
		{[]int64{8, 4, 2}, 8, 4, false},
		{[]int64{8}, 8, 4, false},
	}
	for _, c := range cases {
		if got := shapeIs(c.shape, c.k, c.n); got != c.want {
			t.Errorf("shapeIs(%v, %d, %d) = %v", c.shape, c.k, c.n, got)
		}
	}
}
