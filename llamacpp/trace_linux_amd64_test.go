package llamacpp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/model"
)

// TestTrace: Trace lists llama.cpp's graph nodes with the checkpoint each
// maps to; every checkpoint of the graph is some node's, exactly once, and
// the unnamed attention projection is found by its input.
func TestTrace(t *testing.T) {
	m, p := openStories(t, Options{})
	nodes, err := p.Trace([]int32{1, 2})
	require.NoError(t, err)
	var mapped []string
	names := map[string]bool{}
	for _, n := range nodes {
		names[n.Name] = true
		if n.Checkpoint != "" {
			mapped = append(mapped, n.Checkpoint)
		}
	}
	assert.ElementsMatch(t, model.NewGraph(&m.Config).Names(), mapped)
	assert.True(t, names["kq_soft_max-0"], "the attention scores are in the graph (not a checkpoint)")
	for _, n := range nodes {
		if n.Checkpoint == "blk.0.attn_proj" {
			assert.Equal(t, "MUL_MAT", n.Op)
		}
		if n.Checkpoint == "logits" {
			assert.Equal(t, [4]int64{int64(m.Config.Vocab), 2, 1, 1}, n.Shape)
		}
	}
	// Trace leaves no hook behind and the cache empty.
	_, err = p.Forward([]int32{1}, 0)
	assert.NoError(t, err)
}
