package cuda

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// This file is a stand-in until the hand-written kernels (cuda/builtin.go,
// branch cudakern) are merged; the lead deletes it then.

// builtinKernel is the hand-written CUDA kernel of one built-in op
// specialization.
type builtinKernel struct {
	Source string // complete CUDA C source, NVRTC-compilable, self-contained (may #include <cuda_fp16.h>)
	Entry  string // extern "C" __global__ function name
	// Shape returns the launch configuration of a dispatch over g with args
	// (the backend chooses how many outputs a block computes; every output is
	// computed by exactly one block, in a fixed order).
	Shape func(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int)
}

// builtin returns the kernel of spec, or a clear error: until the merge
// there are none.
func builtin(spec backend.KernelSpec) (builtinKernel, error) {
	return builtinKernel{}, fmt.Errorf("cuda: built-in op %s: the hand-written CUDA kernels are not merged yet (cuda/builtin.go)", spec.Name)
}
