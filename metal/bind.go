package metal

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
)

// Argument binding. A dispatch's arguments reach a kernel as Metal
// bindings:
//
//   - Built-in ops (builtin.go): the buffer arguments, in argument order,
//     at [[buffer(0)]]…[[buffer(nb-1)]]; the scalar arguments, in
//     argument order, packed into one argument struct at [[buffer(nb)]]
//     (4 bytes each: int32 or float32, little-endian), followed by al,
//     the address of each buffer argument modulo 16, four bits per buffer
//     in binding order (the kernels choose their vector loads from it and
//     never cast a pointer to an integer). One setBytes per dispatch.
//   - Composed (dsl) kernels: argument i at [[buffer(i)]]: a buffer with
//     setBuffer, an Int or a Float with setBytes (4 bytes, the kernel's
//     constant int& or float&).
//
// A buffer argument's offset must lie inside its buffer and be a
// multiple of the alignment its parameter's element type needs (Metal
// requires it of setBuffer:offset:atIndex:; a misaligned read is
// undefined on the GPU). Every check names the kernel, the argument and
// the parameter.

// binding is one Metal binding of a dispatch.
type binding struct {
	index int     // [[buffer(index)]]
	buf   *buffer // the buffer, nil for bytes
	off   int     // byte offset of the argument in buf's MTLBuffer
	bytes []byte  // setBytes payload (nil for a buffer)
}

// argLayout is how a kernel's arguments map to bindings.
type argLayout struct {
	// sig spells the argument kinds a dispatch must pass (b buffer, i
	// int, f float).
	sig string
	// params are the kernel's [[buffer(i)]] parameters by index.
	params []mslParam
	// structIndex is the binding of the packed argument struct (built-in
	// ops), -1 for composed kernels (one binding per argument).
	structIndex int
	// structSize is the packed struct's size in bytes.
	structSize int
	// align is, per argument, the alignment its buffer offset needs (0
	// for scalars).
	align []int
}

// builtinLayout returns the layout of a built-in op's kernel k from its
// signature sig, checking that the kernel's parameters are what the op
// binds: the buffers at 0…nb-1, the argument struct at nb. weightAlign is
// the alignment a weight (uchar) buffer needs.
func builtinLayout(k mslKernel, sig string, weightAlign int) (argLayout, error) {
	params, err := k.bufferParams()
	if err != nil {
		return argLayout{}, err
	}
	l := argLayout{sig: sig, params: params, align: make([]int, len(sig))}
	nb, ns := 0, 0
	for i, c := range sig {
		if c != 'b' {
			ns++
			continue
		}
		if nb >= len(params) || params[nb].Role != roleBuffer {
			return l, fmt.Errorf("kernel %s: argument %d is a buffer but [[buffer(%d)]] is not a buffer parameter", k.Name, i, nb)
		}
		l.align[i] = elemAlign(params[nb].Elem)
		if params[nb].Elem == "uchar" {
			l.align[i] = weightAlign
		}
		nb++
	}
	if len(params) != nb+1 || params[nb].Role != roleBytes {
		return l, fmt.Errorf("kernel %s: want %d buffer parameters and the argument struct at [[buffer(%d)]], have %d [[buffer]] parameters", k.Name, nb, nb, len(params))
	}
	if nb > 8 {
		return l, fmt.Errorf("kernel %s: %d buffers, but al holds 8", k.Name, nb)
	}
	l.structIndex, l.structSize = nb, 4*(ns+1)
	return l, nil
}

// composedLayout returns the layout of a composed kernel: argument i at
// [[buffer(i)]], its kind given by the parameter (a pointer takes a
// buffer, a constant int&, uint& or float& a scalar).
func composedLayout(k mslKernel) (argLayout, error) {
	params, err := k.bufferParams()
	if err != nil {
		return argLayout{}, err
	}
	l := argLayout{params: params, structIndex: -1, align: make([]int, len(params))}
	sig := make([]byte, len(params))
	for i, p := range params {
		switch {
		case p.Role == roleBuffer:
			sig[i] = 'b'
			l.align[i] = elemAlign(p.Elem)
		case p.Elem == "float":
			sig[i] = 'f'
		case p.Elem == "int" || p.Elem == "uint":
			sig[i] = 'i'
		default:
			return l, fmt.Errorf("kernel %s: parameter %s [[buffer(%d)]] is a constant %s&; a dispatch passes buffers, ints and floats only", k.Name, p.Name, i, p.Elem)
		}
	}
	l.sig = string(sig)
	return l, nil
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

// signature spells the argument kinds of args.
func signature(args []backend.Arg) string {
	s := make([]byte, len(args))
	for i, a := range args {
		s[i] = kindLetter(a.Kind)
	}
	return string(s)
}

// resolve turns a dispatch's arguments into bindings, appending them to
// binds and the setBytes payloads to arena. own resolves a buffer
// argument to the backend's buffer (or says why it is not one).
func (l *argLayout) resolve(binds []binding, arena []byte, args []backend.Arg, own func(backend.Buffer) (*buffer, error)) ([]binding, []byte, error) {
	if got := signature(args); got != l.sig {
		return binds, arena, fmt.Errorf("takes arguments %q (b buffer, i int, f float), got %q", l.sig, got)
	}
	start := len(arena)
	var al uint32
	nb := 0
	for i, a := range args {
		switch a.Kind {
		case backend.ArgBuffer:
			x, err := own(a.Buf)
			if err != nil {
				return binds, arena, fmt.Errorf("argument %d: %w", i, err)
			}
			if a.Off < 0 || a.Off > x.size {
				return binds, arena, fmt.Errorf("argument %d: offset %d outside a %d-byte buffer", i, a.Off, x.size)
			}
			off := x.off + a.Off
			if al := l.align[i]; al > 1 && off%al != 0 {
				p := l.params[l.index(i)]
				return binds, arena, fmt.Errorf("argument %d (%s, %s): offset %d is not a multiple of %d", i, p.Name, p.Type, a.Off, al)
			}
			binds = append(binds, binding{index: l.index(i), buf: x, off: off})
			if l.structIndex >= 0 {
				al |= uint32(off&15) << (4 * nb)
			}
			nb++
		case backend.ArgInt:
			if a.I < math.MinInt32 || a.I > math.MaxInt32 {
				return binds, arena, fmt.Errorf("argument %d: Int(%d) does not fit a 32-bit int", i, a.I)
			}
			arena = binary.LittleEndian.AppendUint32(arena, uint32(int32(a.I)))
		case backend.ArgFloat:
			arena = binary.LittleEndian.AppendUint32(arena, math.Float32bits(a.F))
		}
		if a.Kind != backend.ArgBuffer && l.structIndex < 0 {
			binds = append(binds, binding{index: i, bytes: arena[len(arena)-4 : len(arena) : len(arena)]})
		}
	}
	if l.structIndex >= 0 {
		arena = binary.LittleEndian.AppendUint32(arena, al)
		binds = append(binds, binding{index: l.structIndex, bytes: arena[start:len(arena):len(arena)]})
	}
	return binds, arena, nil
}

// index is the binding index of argument i: its position among the
// buffers for built-in ops, i itself for composed kernels.
func (l *argLayout) index(i int) int {
	if l.structIndex < 0 {
		return i
	}
	n := 0
	for j := 0; j < i; j++ {
		if l.sig[j] == 'b' {
			n++
		}
	}
	return n
}
