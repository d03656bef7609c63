package model_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// archConfig is a configuration of arch whose widths are all different:
// d 64, heads·hd 8·24 = 192, kv·hd 2·24 = 48, ff 80, vocab 100.
func archConfig(arch string) model.Config {
	c := model.Config{Arch: arch, Dim: 64, Layers: 3, Heads: 8, KVHeads: 2, HeadDim: 24, FF: 80, Vocab: 100}
	c.QKVBias = arch == "qwen2"
	c.QKNorm = arch == "qwen3"
	return c
}

// TestGraphKindsAndWidths checks each architecture's graph against
// DESIGN.md's checkpoint table, written out here by hand: kinds in
// execution order, op, width.
func TestGraphKindsAndWidths(t *testing.T) {
	type row struct {
		kind  string
		op    model.Op
		width int
	}
	d, q, kv, ff, vocab := 64, 192, 48, 80, 100
	common := func(qk bool) []row {
		r := []row{{"embd", model.OpGetRows, d}, {"attn_norm", model.OpRMSNorm, d}, {"q", model.OpMulMat, q},
			{"k", model.OpMulMat, kv}, {"v", model.OpMulMat, kv}}
		if qk {
			r = append(r, row{"q_norm", model.OpRMSNorm, q}, row{"k_norm", model.OpRMSNorm, kv})
		}
		return append(r, row{"q_rope", model.OpRope, q}, row{"k_rope", model.OpRope, kv},
			row{"attn_out", model.OpAttention, q}, row{"attn_proj", model.OpMulMat, d}, row{"ffn_inp", model.OpAdd, d},
			row{"ffn_norm", model.OpRMSNorm, d}, row{"ffn_gate", model.OpMulMat, ff}, row{"ffn_up", model.OpMulMat, ff},
			row{"ffn_act", model.OpSwiGLU, ff}, row{"ffn_out", model.OpMulMat, d}, row{"l_out", model.OpAdd, d},
			row{"output_norm", model.OpRMSNorm, d}, row{"logits", model.OpMulMat, vocab})
	}
	for _, tc := range []struct {
		arch string
		want []row
	}{{"llama", common(false)}, {"qwen2", common(false)}, {"qwen3", common(true)}} {
		t.Run(tc.arch, func(t *testing.T) {
			c := archConfig(tc.arch)
			g := model.NewGraph(&c)
			var got []row
			for _, n := range g.Nodes() {
				got = append(got, row{n.Kind, n.Op, n.Width.Of(&c)})
				assert.Equal(t, n.Width.Of(&c), g.Cols(n.Kind), n.Kind)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestGraphInputs checks the resolution of inputs to full checkpoint
// names, including the residual stream between blocks and the q/k source
// of RoPE with and without QK-norm.
func TestGraphInputs(t *testing.T) {
	for _, tc := range []struct {
		arch, name string
		want       []string
	}{
		{"llama", "embd", []string{}},
		{"llama", "blk.0.attn_norm", []string{"embd"}},
		{"llama", "blk.2.attn_norm", []string{"blk.1.l_out"}},
		{"llama", "blk.1.q", []string{"blk.1.attn_norm"}},
		{"llama", "blk.1.q_rope", []string{"blk.1.q"}},
		{"qwen2", "blk.1.k_rope", []string{"blk.1.k"}},
		{"qwen3", "blk.1.q_rope", []string{"blk.1.q_norm"}},
		{"qwen3", "blk.0.k_norm", []string{"blk.0.k"}},
		{"llama", "blk.0.attn_out", []string{"blk.0.q_rope", "blk.0.k_rope", "blk.0.v"}},
		{"llama", "blk.0.ffn_inp", []string{"embd", "blk.0.attn_proj"}},
		{"llama", "blk.2.ffn_inp", []string{"blk.1.l_out", "blk.2.attn_proj"}},
		{"llama", "blk.2.ffn_act", []string{"blk.2.ffn_gate", "blk.2.ffn_up"}},
		{"llama", "blk.2.l_out", []string{"blk.2.ffn_inp", "blk.2.ffn_out"}},
		{"llama", "output_norm", []string{"blk.2.l_out"}},
		{"llama", "logits", []string{"output_norm"}},
	} {
		c := archConfig(tc.arch)
		got, err := model.NewGraph(&c).Inputs(tc.name)
		require.NoError(t, err, "%s %s", tc.arch, tc.name)
		assert.Equal(t, tc.want, got, "%s %s", tc.arch, tc.name)
	}
	for _, tc := range []struct{ arch, name, msg string }{
		{"llama", "blk.0.q_norm", "has no q_norm checkpoint"},
		{"qwen2", "blk.1.k_norm", "has no k_norm checkpoint"},
		{"llama", "blk.3.q", "has 3 layers"},
		{"llama", "blk.x.q", "not a checkpoint name"},
		{"llama", "blk.0.ffn_actt", "unknown checkpoint kind"},
		{"llama", "blk.0.logits", "unknown checkpoint kind"},
	} {
		c := archConfig(tc.arch)
		_, err := model.NewGraph(&c).Inputs(tc.name)
		assert.ErrorContains(t, err, tc.msg, "%s %s", tc.arch, tc.name)
	}
}

// TestGraphStructure: inputs name earlier kinds of the graph (it is in
// execution order), block kinds come between the global ones, and Names
// lists each block's kinds once per layer.
func TestGraphStructure(t *testing.T) {
	for _, arch := range model.Architectures() {
		c := archConfig(arch)
		g := model.NewGraph(&c)
		kinds := g.Kinds()
		for i, n := range g.Nodes() {
			for _, in := range n.Inputs {
				if in == model.BlockIn {
					continue
				}
				j := slices.Index(kinds, in)
				assert.True(t, j >= 0 && j < i, "%s: %s takes %s, which is not an earlier kind", arch, n.Kind, in)
			}
			if n.Kind != "embd" {
				assert.NotEmpty(t, n.Inputs, "%s: %s has no inputs", arch, n.Kind)
			}
			assert.NotEmpty(t, n.Llama.Ops, "%s: %s has no llama.cpp op", arch, n.Kind)
		}
		block := 0
		for _, n := range g.Nodes() {
			if n.Block {
				block++
			}
		}
		names := g.Names()
		assert.Len(t, names, len(kinds)+(c.Layers-1)*block, arch)
		assert.Equal(t, []string{"embd", "blk.0.attn_norm"}, names[:2], arch)
		assert.Equal(t, []string{"blk.2.l_out", "output_norm", "logits"}, names[len(names)-3:], arch)
	}
}

// TestProducers: q_norm and k_norm are qwen3's only; everything else is
// every architecture's.
func TestProducers(t *testing.T) {
	assert.Equal(t, []string{"qwen3"}, model.Producers("q_norm"))
	assert.Equal(t, []string{"qwen3"}, model.Producers("k_norm"))
	assert.Equal(t, []string{"llama", "qwen2", "qwen3"}, model.Producers("ffn_act"))
	assert.Empty(t, model.Producers("ffn_actt"))
	assert.True(t, model.IsKind("q_norm"))
	assert.False(t, model.IsKind("attn_output"))
	assert.Len(t, model.Kinds(), 20)
}

// TestGraphWeightsBind: every weight a node names is bound for a real
// file of each architecture (synth), with the (K, N) its op implies:
// a mul_mat's matrix takes the input's width to the node's, its bias is
// as long as the node is wide, an rms_norm's gain divides the width.
func TestGraphWeightsBind(t *testing.T) {
	for _, preset := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		t.Run(preset, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), preset+".gguf")
			_, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: gguf.TypeQ8_0, Seed: 1})
			require.NoError(t, err)
			m, err := model.Open(file)
			require.NoError(t, err)
			defer m.Close()
			c := &m.Config
			g := model.NewGraph(c)
			for _, name := range g.Names() {
				n, l, err := g.Check(name)
				require.NoError(t, err)
				width := n.Width.Of(c)
				inputs, err := g.Inputs(name)
				require.NoError(t, err)
				for i, wn := range n.Weights {
					w := m.Weights.Lookup(l, wn)
					require.NotNil(t, w, "%s: weight %s", name, wn)
					require.NotNil(t, w.Data, "%s: weight %s is not bound", name, wn)
					switch {
					case n.Op == model.OpRMSNorm:
						assert.Equal(t, 0, width%w.K, "%s: gain %s of %d elements", name, w.Name, w.K)
					case n.Op == model.OpMulMat && i == 0:
						in, _, err := g.Check(inputs[0])
						require.NoError(t, err)
						assert.Equal(t, [2]int{in.Width.Of(c), width}, [2]int{w.K, w.N}, "%s: %s (K, N)", name, w.Name)
					case n.Op == model.OpMulMat:
						assert.Equal(t, width, w.K, "%s: bias %s", name, w.Name)
					case n.Op == model.OpGetRows:
						assert.Equal(t, [2]int{width, c.Vocab}, [2]int{w.K, w.N}, "%s: table %s", name, w.Name)
					default:
						t.Errorf("%s: op %s takes no weights, graph names %s", name, n.Op, wn)
					}
				}
			}
			assert.Nil(t, m.Weights.Lookup(0, "attn_qq.weight"))
			assert.Nil(t, m.Weights.Lookup(c.Layers, "attn_q.weight"))
			assert.Nil(t, m.Weights.Lookup(-1, "attn_q.weight"))
		})
	}
}
