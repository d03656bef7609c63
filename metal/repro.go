package metal

import "github.com/metallic-go/metallic/backend"

// Launch is how the backend dispatches one built-in op: the kernel's
// source and entry, the threadgroups, the threads per threadgroup and the
// dynamic threadgroup memory its shape gives, and where the arguments
// bind. Tools that run one dispatch outside the backend (paritycheck
// repro) use it: buffer argument i binds at [[buffer(n)]], n its position
// among the buffers; the scalars (4 bytes each, in order) and then al (a
// uint32: the offset mod 16 of buffer n in bits 4n…4n+3) form one
// argument struct at [[buffer(StructIndex)]]; threadgroup memory, when
// TGMem > 0, binds at [[threadgroup(0)]].
type Launch struct {
	Source, Entry string
	Grid, Threads [3]int
	TGMem         int
	StructIndex   int
	TakesTGMem    bool
}

// BuiltinLaunch returns the launch of a dispatch of built-in op spec over
// g with args, or why the backend cannot run it.
func BuiltinLaunch(spec backend.KernelSpec, g backend.Grid, args []backend.Arg) (Launch, error) {
	k, err := builtin(spec)
	if err != nil {
		return Launch{}, err
	}
	ls := k.Shape(g, args)
	nb := 0
	for _, c := range k.Sig {
		if c == 'b' {
			nb++
		}
	}
	return Launch{Source: k.Source, Entry: k.Entry, Grid: ls.grid, Threads: ls.threads, TGMem: ls.tgMem,
		StructIndex: nb, TakesTGMem: builtinOps[spec.Name].tgMem}, nil
}
