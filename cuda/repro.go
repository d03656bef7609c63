package cuda

import "github.com/metallic-go/metallic/backend"

// Launch is how the backend launches one dispatch of a built-in op: the
// kernel's source and entry, and the grid, block and dynamic shared
// memory its Shape gives. Tools that run one dispatch outside the backend
// (paritycheck repro) use it; kernel parameters are the op's arguments in
// backend/ops.go order (a buffer: a device pointer advanced by its
// offset; Int: a 4-byte int; Float: a 4-byte float).
type Launch struct {
	Source, Entry string
	Grid, Block   [3]int
	Shared        int
}

// BuiltinLaunch returns the launch of a dispatch of built-in op spec over
// g with args, or why the backend cannot run it.
func BuiltinLaunch(spec backend.KernelSpec, g backend.Grid, args []backend.Arg) (Launch, error) {
	k, err := builtin(spec)
	if err != nil {
		return Launch{}, err
	}
	grid, block, shared := k.Shape(g, args)
	return Launch{Source: k.Source, Entry: k.Entry, Grid: grid, Block: block, Shared: shared}, nil
}

// NVRTCOptions are the NVRTC options the backend compiles every kernel
// with for a device of compute capability major.minor (a CUBIN for it; no
// extra header folders), as Provenance().Options lists them.
func NVRTCOptions(major, minor int) []string { return compileOptions(major, minor, true, nil) }
