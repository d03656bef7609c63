package kernel

// Dispatch variables in device memory.
//
// A value that changes at every decode step — the position of the forward
// call's first token, and with it the KV-cache row a step writes — is not a
// launch argument: kernels read it from a small int32 buffer, the "vars"
// buffer, that the executor uploads once per forward call (its header,
// then the call's token ids). Consecutive decode steps then record the
// same launches with the same argument bytes, which is what lets a GPU
// backend replay them as one captured graph (CUDA graphs) with only that
// upload between tokens. Scalars that stay constant over a decode run (the
// token count, 1) remain launch arguments.
//
// A stage declares the buffer as
//
//	Vars Buf `dsl:"buffer,name=vars,var=vars"` // Elem: Int
//
// so every stage of a kernel shares one argument, and Kernel.Bind takes it
// from the binding's "vars" or else its "$vars" entry.
const (
	// VarPos is the slot holding the position of the call's first token.
	VarPos = 0
	// VarTokens is the slot holding the call's token count (informative:
	// kernels take the count as a launch argument).
	VarTokens = 1
	// VarsHeader is the number of int32 slots before the token ids.
	VarsHeader = 4
)

// varsBuf returns the handle of a vars buffer argument.
func varsBuf() Buf { return Buf{Elem: Int} }

// posExpr reads the call's first position from the vars buffer in
// generated code.
func posExpr(v *Buf) Expr { return F("%s[%d]", v.v, VarPos) }

// posCPU reads the call's first position from the vars buffer argument.
func posCPU(f *Frame, v *Buf) int { return int(f.Args[v.Index].I32()[VarPos]) }
