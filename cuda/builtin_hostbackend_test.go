//go:build linux

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
)

// emuBackend is a test-only backend.Backend that runs the built-in CUDA
// kernels on the host: buffers are C memory of the host library, Load
// resolves builtin(spec) to its compiled entry, and a dispatch launches it
// with the kernel's own Shape(). Every buffer ends at a guard page (a read
// past its end fails the launch) behind a red zone checked after each
// launch, and wrapped (read-only) buffers are compared with their original
// bytes, so a kernel reading or writing out of bounds, or writing into a
// weight, fails the dispatch.
type emuBackend struct {
	lib  *emuLib
	args unsafe.Pointer // emuMaxArgs 8-byte launch arguments, C memory
	live map[*emuBuf]bool
	// launches counts dispatches that ran (tests check work was done).
	launches int
}

const (
	emuMaxArgs  = 16
	emuMaxBlock = 1024
	// emuMaxShared is the static shared memory a block may use without the
	// opt-in attribute (48 KiB).
	emuMaxShared = 48 << 10
)

func newEmuBackend(lib *emuLib) *emuBackend {
	return &emuBackend{lib: lib, args: lib.alloc(8 * emuMaxArgs), live: map[*emuBuf]bool{}}
}

// emuBuf is n bytes of the host library's guarded memory.
type emuBuf struct {
	lib  *emuLib
	base unsafe.Pointer
	n    int
	orig []byte // the wrapped bytes, for read-only buffers
}

func (b *emuBuf) Size() int { return b.n }

// bytes is the buffer's memory.
func (b *emuBuf) bytes() []byte { return unsafe.Slice((*byte)(b.base), b.n) }

// check reports a red-zone or read-only byte a launch changed.
func (b *emuBuf) check() error {
	if off := b.lib.check(b.base); off != math.MinInt64 {
		return fmt.Errorf("wrote byte %d outside a buffer of %d bytes", off, b.n)
	}
	if b.orig != nil && !bytes.Equal(b.orig, b.bytes()) {
		return fmt.Errorf("wrote into a read-only (wrapped) buffer of %d bytes", b.n)
	}
	return nil
}

func (h *emuBackend) Name() string                 { return "cuda-host" }
func (h *emuBackend) Numerics() []backend.Numerics { return []backend.Numerics{backend.Plain} }

func (h *emuBackend) Alloc(n int) (backend.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda-host: Alloc(%d)", n)
	}
	b := &emuBuf{lib: h.lib, base: h.lib.alloc(uint64(n)), n: n}
	if b.base == nil {
		return nil, errors.New("cuda-host: out of memory")
	}
	h.live[b] = true
	return b, nil
}

func (h *emuBackend) Wrap(data []byte) (backend.Buffer, error) {
	buf, err := h.Alloc(len(data))
	if err != nil {
		return nil, err
	}
	b := buf.(*emuBuf)
	copy(b.bytes(), data)
	b.orig = append([]byte(nil), data...)
	return b, nil
}

func (h *emuBackend) buf(x backend.Buffer) (*emuBuf, error) {
	b, ok := x.(*emuBuf)
	if !ok || !h.live[b] {
		return nil, errors.New("cuda-host: not a live buffer of this backend")
	}
	return b, nil
}

func (h *emuBackend) Upload(dst backend.Buffer, off int, src []byte) error {
	b, err := h.buf(dst)
	if err != nil {
		return err
	}
	if off < 0 || off+len(src) > b.n {
		return fmt.Errorf("cuda-host: Upload of %d bytes at %d into %d", len(src), off, b.n)
	}
	copy(b.bytes()[off:], src)
	if b.orig != nil {
		copy(b.orig[off:], src)
	}
	return nil
}

func (h *emuBackend) Download(dst []byte, src backend.Buffer, off int) error {
	b, err := h.buf(src)
	if err != nil {
		return err
	}
	if off < 0 || off+len(dst) > b.n {
		return fmt.Errorf("cuda-host: Download of %d bytes at %d from %d", len(dst), off, b.n)
	}
	copy(dst, b.bytes()[off:])
	return nil
}

func (h *emuBackend) Free(x backend.Buffer) {
	if b, err := h.buf(x); err == nil {
		delete(h.live, b)
		h.lib.free(b.base)
	}
}

// emuKernel is a loaded built-in kernel.
type emuKernel struct {
	name string
	k    builtinKernel
	sig  string
}

func (k *emuKernel) Name() string { return k.name }

func (h *emuBackend) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	if spec.CUDA != "" || spec.MSL != "" || spec.CPU != nil {
		return nil, fmt.Errorf("cuda-host: %s: runs built-in ops only", spec.Name)
	}
	k, err := builtin(spec)
	if err != nil {
		return nil, err
	}
	if _, ok := h.lib.launch[k.Entry]; !ok {
		return nil, fmt.Errorf("cuda-host: %s is not in the host library", k.Entry)
	}
	return &emuKernel{name: spec.Name, k: k, sig: builtinOps[spec.Name].sig}, nil
}

func (h *emuBackend) Begin() backend.Encoder { return &emuEncoder{h: h} }
func (h *emuBackend) Sync() error            { return nil }

func (h *emuBackend) Close() error {
	for b := range h.live {
		h.Free(b)
	}
	h.lib.free(h.args)
	return nil
}

// emuEncoder runs each dispatch at once and keeps the first error.
type emuEncoder struct {
	h   *emuBackend
	err error
}

func (e *emuEncoder) Commit() error { return e.err }

func (e *emuEncoder) Dispatch(kk backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.err == nil {
		e.err = e.h.dispatch(kk, g, args)
	}
}

// dispatch checks the arguments against the op's signature and the launch
// shape against CUDA's limits, runs the launch and checks every buffer.
func (h *emuBackend) dispatch(kk backend.Kernel, g backend.Grid, args []backend.Arg) error {
	k, ok := kk.(*emuKernel)
	if !ok {
		return errors.New("cuda-host: not a kernel of this backend")
	}
	if len(args) != len(k.sig) || len(args) > emuMaxArgs {
		return fmt.Errorf("cuda-host: %s takes %d arguments, got %d", k.k.Entry, len(k.sig), len(args))
	}
	vals := unsafe.Slice((*uint64)(h.args), emuMaxArgs)
	for i, a := range args {
		want := map[byte]backend.ArgKind{'b': backend.ArgBuffer, 'i': backend.ArgInt, 'f': backend.ArgFloat}[k.sig[i]]
		if a.Kind != want {
			return fmt.Errorf("cuda-host: %s argument %d is kind %d, want %d", k.k.Entry, i, a.Kind, want)
		}
		switch a.Kind {
		case backend.ArgBuffer:
			b, err := h.buf(a.Buf)
			if err != nil {
				return fmt.Errorf("cuda-host: %s argument %d: %w", k.k.Entry, i, err)
			}
			if a.Off < 0 || a.Off > b.n {
				return fmt.Errorf("cuda-host: %s argument %d: offset %d outside %d bytes", k.k.Entry, i, a.Off, b.n)
			}
			vals[i] = uint64(uintptr(b.base)) + uint64(a.Off)
		case backend.ArgInt:
			if a.I != int(int32(a.I)) {
				return fmt.Errorf("cuda-host: %s argument %d: %d overflows int32", k.k.Entry, i, a.I)
			}
			vals[i] = uint64(uint32(int32(a.I)))
		case backend.ArgFloat:
			vals[i] = uint64(math.Float32bits(a.F))
		}
	}
	grid, block, shared := k.k.Shape(g, args)
	if err := emuCheckLaunch(grid, block, shared); err != nil {
		return fmt.Errorf("cuda-host: %s: %w", k.k.Entry, err)
	}
	if grid[0]*grid[1]*grid[2] == 0 {
		return nil
	}
	launch := h.lib.launch[k.k.Entry]
	if rc := launch(int32(grid[0]), int32(grid[1]), int32(grid[2]), int32(block[0]), h.args); rc != 0 {
		return fmt.Errorf("cuda-host: %s grid %v block %v: %s", k.k.Entry, grid, block, h.lib.errorMsg())
	}
	h.launches++
	for b := range h.live {
		if err := b.check(); err != nil {
			return fmt.Errorf("cuda-host: %s grid %v block %v: %w", k.k.Entry, grid, block, err)
		}
	}
	return nil
}

// emuCheckLaunch checks a launch shape against the limits of CUDA devices and
// of the host runtime: 1-D blocks of whole warps up to 1024 threads, grid
// y and z below 65536, static shared memory within 48 KiB.
func emuCheckLaunch(grid, block [3]int, shared int) error {
	switch {
	case block[0] < 32 || block[0] > emuMaxBlock || block[0]%32 != 0 || block[1] != 1 || block[2] != 1:
		return fmt.Errorf("block %v: want 1-D, whole warps, at most %d threads", block, emuMaxBlock)
	case grid[0] < 0 || grid[1] < 0 || grid[2] < 0 || grid[0] > math.MaxInt32 || grid[1] > 65535 || grid[2] > 65535:
		return fmt.Errorf("grid %v out of CUDA's range", grid)
	case shared < 0 || shared > emuMaxShared:
		return fmt.Errorf("dynamic shared memory %d bytes: over %d without the opt-in attribute", shared, emuMaxShared)
	}
	return nil
}
