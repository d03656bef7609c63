//go:build !amd64

package kernel

import (
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// dotSets returns the pure Go definition: this architecture has no SIMD
// row dots.
func dotSets() []*dotSet { return []*dotSet{goDots} }

// simdDots returns nil: this architecture runs the pure Go dot (dotLanes).
func simdDots(gguf.Type, int) *dotKernels { return nil }

// roundF16 rounds x to f16 and back in place (ggmlnum.RoundForDot).
func roundF16(x []float32) { ggmlnum.RoundForDot(gguf.TypeF16, x) }
