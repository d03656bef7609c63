//go:build !amd64

package kernel

import "github.com/metallic-go/metallic/gguf"

// simdDots returns nil: this architecture runs the pure Go dot (dotLanes).
func simdDots(gguf.Type, int) *dotKernels { return nil }
