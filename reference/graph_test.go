package reference_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// TestEmitsGraph: for each architecture, the hook sees exactly the
// checkpoints of the model's graph (model.NewGraph) in the graph's order,
// each with the graph's width, its layer and the call's positions, in a
// prefill and in a decode call; and Checkpoints() is the graph's kinds.
func TestEmitsGraph(t *testing.T) {
	for _, preset := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		t.Run(preset, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), preset+".gguf")
			_, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: gguf.TypeF32, Seed: 5})
			require.NoError(t, err)
			m, err := model.Open(file)
			require.NoError(t, err)
			defer m.Close()
			g := model.NewGraph(&m.Config)
			c := open(t, m, model.PathOptions{Ctx: 16})
			assert.Equal(t, g.Kinds(), c.Checkpoints(), "Checkpoints()")

			type seen struct {
				name             string
				layer, pos, rows int
				cols, data       int
			}
			var got []seen
			c.SetHook(func(x *model.Tensor) {
				got = append(got, seen{x.Name, x.Layer, x.Pos, x.Rows, x.Cols, len(x.Data)})
			})
			for _, call := range []struct{ pos, T int }{{0, 3}, {3, 1}} {
				got = got[:0]
				toks := make([]int32, call.T)
				for i := range toks {
					toks[i] = int32(1 + 5*(call.pos+i))
				}
				_, err := c.Forward(toks, call.pos)
				require.NoError(t, err)
				var want []seen
				for _, name := range g.Names() {
					node, layer, err := g.Check(name)
					require.NoError(t, err)
					cols := node.Width.Of(&m.Config)
					want = append(want, seen{name, layer, call.pos, call.T, cols, call.T * cols})
				}
				assert.Equal(t, want, got, fmt.Sprintf("checkpoints of the forward call at %d of %d tokens", call.pos, call.T))
			}
		})
	}
}
