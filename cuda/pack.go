package cuda

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
)

// Kernel parameters.
//
// A kernel's arguments are its parameters in order: a buffer argument is a
// device pointer (8 bytes) already advanced by Arg.Off, Int is a 4-byte
// int, Float a 4-byte float. They are packed as the CUDA ABI lays out a
// parameter list: each value little-endian at the next offset aligned to
// its size. The packed bytes are what cuLaunchKernel copies, and they are
// also the launch's part of the graph key: two launches with equal bytes,
// kernel and shape are the same launch.

// maxParamBytes is the most parameter bytes one launch may pass (the
// driver's classic limit is 4 KiB).
const maxParamBytes = 4096

// argSize is the packed size of an argument kind (0 for an unknown kind).
func argSize(k backend.ArgKind) int {
	switch k {
	case backend.ArgBuffer:
		return 8
	case backend.ArgInt, backend.ArgFloat:
		return 4
	}
	return 0
}

// packParams appends the parameters of args to blob, which holds only this
// launch's earlier parameters (offsets are relative to its start), and
// appends each parameter's offset to offs. ptrs[i] is the device address
// of buffer argument i (offset included); it is ignored for scalars.
func packParams(blob []byte, offs []int, args []backend.Arg, ptrs []devptr) ([]byte, []int, error) {
	start := len(blob)
	for i, a := range args {
		size := argSize(a.Kind)
		if size == 0 {
			return blob, offs, fmt.Errorf("arg %d: unknown argument kind %d", i, a.Kind)
		}
		for (len(blob)-start)%size != 0 {
			blob = append(blob, 0)
		}
		offs = append(offs, len(blob)-start)
		switch a.Kind {
		case backend.ArgBuffer:
			blob = binary.LittleEndian.AppendUint64(blob, uint64(ptrs[i]))
		case backend.ArgInt:
			if a.I < math.MinInt32 || a.I > math.MaxInt32 {
				return blob, offs, fmt.Errorf("arg %d: Int(%d) does not fit a 32-bit int", i, a.I)
			}
			blob = binary.LittleEndian.AppendUint32(blob, uint32(int32(a.I)))
		case backend.ArgFloat:
			blob = binary.LittleEndian.AppendUint32(blob, math.Float32bits(a.F))
		}
	}
	if n := len(blob) - start; n > maxParamBytes {
		return blob, offs, fmt.Errorf("%d bytes of parameters exceed the %d-byte limit", n, maxParamBytes)
	}
	return blob, offs, nil
}

// signature spells the argument kinds of args: b buffer, i int, f float.
func signature(args []backend.Arg) string {
	s := make([]byte, len(args))
	for i, a := range args {
		s[i] = kindLetter(a.Kind)
	}
	return string(s)
}

// kindLetter is an argument kind's letter in a signature.
func kindLetter(k backend.ArgKind) byte {
	switch k {
	case backend.ArgBuffer:
		return 'b'
	case backend.ArgInt:
		return 'i'
	case backend.ArgFloat:
		return 'f'
	}
	return '?'
}

// matches reports whether args have the kinds sig spells.
func matches(sig string, args []backend.Arg) bool {
	if len(sig) != len(args) {
		return false
	}
	for i, a := range args {
		if sig[i] != kindLetter(a.Kind) {
			return false
		}
	}
	return true
}

// builtinSigs are the argument kinds of the built-in ops, in the order
// backend/ops.go lists them (Pos arguments are buffers).
var builtinSigs = map[string]string{
	backend.OpEmbed:     "bbbi",
	backend.OpRMSNorm:   "bbbif",
	backend.OpMatMul:    "bbbiii",
	backend.OpMatMulQ:   "bbbiii",
	backend.OpAddBias:   "bbbi",
	backend.OpRope:      "bbiiibfi",
	backend.OpCopy:      "bbib",
	backend.OpAttention: "bbbbiiibf",
	backend.OpAdd:       "bbbi",
	backend.OpSwiGLU:    "bbbi",
}

// checkParams compares the packed layout of args (offs) with the kernel's
// own parameter list as the driver reports it.
func checkParams(args []backend.Arg, offs []int, want []paramSlot) error {
	if len(args) != len(want) {
		return fmt.Errorf("takes %d parameters, got %d arguments (%s)", len(want), len(args), signature(args))
	}
	for i, a := range args {
		if got := argSize(a.Kind); got != want[i].size {
			return fmt.Errorf("parameter %d is %d bytes, got a %d-byte %s argument", i, want[i].size, got, kindName(a.Kind))
		}
		if offs[i] != want[i].offset {
			return fmt.Errorf("parameter %d is at offset %d, packed at %d", i, want[i].offset, offs[i])
		}
	}
	return nil
}

func kindName(k backend.ArgKind) string {
	switch k {
	case backend.ArgBuffer:
		return "buffer"
	case backend.ArgInt:
		return "int"
	case backend.ArgFloat:
		return "float"
	}
	return fmt.Sprintf("kind-%d", k)
}
