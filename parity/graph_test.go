package parity

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/model"
)

// TestThresholdsCoverGraphOps: every op of the checkpoint graph has a
// verdict threshold in every storage dtype, so no checkpoint is judged by
// chainThreshold's fallback.
func TestThresholdsCoverGraphOps(t *testing.T) {
	for _, arch := range model.Architectures() {
		c := model.Config{Arch: arch, QKNorm: arch == "qwen3", QKVBias: arch == "qwen2"}
		for _, n := range model.NewGraph(&c).Nodes() {
			for _, d := range []DType{F32, F16, BF16} {
				_, ok := ThresholdFor(string(n.Op), d)
				assert.True(t, ok, "%s: no %s threshold for op %s (checkpoint %s)", arch, d, n.Op, n.Kind)
			}
		}
	}
}
