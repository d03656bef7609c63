// Package cpu is the Go (and Go assembly) Backend: the embedded default.
// It runs every dispatch as soon as it is recorded, splitting the grid's
// work items over the calling goroutine and helpers from a package-wide
// pool. Each work item is computed entirely by one goroutine in a fixed
// order, so results are bit-identical for any number of threads.
// Weights are read straight from wrapped (mmap'd) memory: the matmuls of
// both numerics profiles run package ggmlnum's SIMD kernels on them in
// place (AVX-512, VNNI and F16C where the CPU has them, chosen at run
// time, portable Go otherwise), with the activations prepared once per
// dispatch; weight types without such kernels are dequantized one row at
// a time into small scratch.
package cpu

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/metallic-go/metallic/backend"
)

func init() {
	backend.Register("cpu", func(opts backend.Options) (backend.Backend, error) {
		return New(opts), nil
	})
}

// Backend is the cpu backend. Create it with New or backend.Open("cpu").
type Backend struct {
	threads int
	err     error // first error of a committed encoder, reported by Sync
	closed  bool
	mapped  []*buffer // live buffers mapped from the system (bigAlloc)
	task    task      // the dispatch being run (one at a time per backend)
	prep    prepared  // what the running dispatch's prep made
	spare   *encoder  // a committed encoder for the next Begin
}

// New returns a cpu backend using opts.Threads workers (0: GOMAXPROCS).
func New(opts backend.Options) *Backend {
	return &Backend{threads: opts.Threads}
}

// Threads is the number of workers a dispatch uses.
func (b *Backend) Threads() int {
	if b.threads > 0 {
		return b.threads
	}
	return runtime.GOMAXPROCS(0)
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// buffer is host memory; wrapped buffers are read-only by convention.
type buffer struct {
	data    []byte
	wrapped bool
	mapped  bool // data was mapped by osAlloc (unmapped by Free or Close)
}

func (x *buffer) Size() int      { return len(x.data) }
func (x *buffer) Bytes() []byte  { return x.data }
func (x *buffer) String() string { return fmt.Sprintf("cpu.buffer(%d bytes)", len(x.data)) }

// Alloc returns a zeroed buffer of n bytes, 64-byte aligned.
func (b *Backend) Alloc(n int) (backend.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cpu: Alloc(%d): negative size", n)
	}
	if bigAlloc > 0 && n >= bigAlloc {
		if data := osAlloc(n); data != nil {
			buf := &buffer{data: data, mapped: true}
			b.mapped = append(b.mapped, buf)
			return buf, nil
		}
	}
	// Allocate as float64s for 8-byte alignment of every typed view.
	words := make([]uint64, (n+7)/8)
	var data []byte
	if n > 0 {
		data = unsafeBytes(words)[:n:n]
	}
	return &buffer{data: data}, nil
}

// Wrap aliases data without copying.
func (b *Backend) Wrap(data []byte) (backend.Buffer, error) {
	return &buffer{data: data, wrapped: true}, nil
}

func hostBuf(x backend.Buffer) (*buffer, error) {
	hb, ok := x.(*buffer)
	if !ok || hb == nil {
		return nil, fmt.Errorf("cpu: buffer %T was not made by the cpu backend", x)
	}
	return hb, nil
}

// Upload copies src into dst at byte offset off.
func (b *Backend) Upload(dst backend.Buffer, off int, src []byte) error {
	hb, err := hostBuf(dst)
	if err != nil {
		return err
	}
	if hb.wrapped {
		return errors.New("cpu: Upload into a wrapped (read-only) buffer")
	}
	if off < 0 || off+len(src) > len(hb.data) {
		return fmt.Errorf("cpu: Upload of %d bytes at %d overflows a %d-byte buffer", len(src), off, len(hb.data))
	}
	copy(hb.data[off:], src)
	return nil
}

// Download copies len(dst) bytes of src from byte offset off.
func (b *Backend) Download(dst []byte, src backend.Buffer, off int) error {
	hb, err := hostBuf(src)
	if err != nil {
		return err
	}
	if off < 0 || off+len(dst) > len(hb.data) {
		return fmt.Errorf("cpu: Download of %d bytes at %d overflows a %d-byte buffer", len(dst), off, len(hb.data))
	}
	copy(dst, hb.data[off:])
	return nil
}

// Free drops the buffer's memory (wrapped memory is left alone).
func (b *Backend) Free(x backend.Buffer) {
	if hb, ok := x.(*buffer); ok && hb != nil {
		if hb.mapped && hb.data != nil {
			osFree(hb.data)
			for i, m := range b.mapped {
				if m == hb {
					b.mapped = append(b.mapped[:i], b.mapped[i+1:]...)
					break
				}
			}
		}
		hb.data = nil
	}
}

// kernel is a loaded cpu kernel.
type kernel struct {
	name string
	fn   backend.CPUFunc
	// grain returns the minimum number of items per task for a dispatch.
	grain func(args []backend.Arg, g backend.Grid) int
	// sig is the argument kinds of a built-in op: b buffer, i int, f float
	// ("" for composed kernels, which check their own arguments).
	sig string
	// prep, when not nil, runs once per dispatch before the items are
	// split (preparing what every item reads, such as quantized
	// activations), and fnp replaces fn: it receives what prep made.
	prep func(c backend.CPUCall, p *prepared)
	fnp  func(c backend.CPUCall, p *prepared)
}

var kindLetter = [...]byte{backend.ArgBuffer: 'b', backend.ArgInt: 'i', backend.ArgFloat: 'f'}

// sigMatches reports whether args have the kinds sig spells.
func sigMatches(sig string, args []backend.Arg) bool {
	if len(sig) != len(args) {
		return false
	}
	for i, a := range args {
		if int(a.Kind) >= len(kindLetter) || kindLetter[a.Kind] != sig[i] {
			return false
		}
	}
	return true
}

func (k *kernel) Name() string { return k.name }

// Load returns a built-in op or the CPU function of a composed kernel.
func (b *Backend) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	if spec.CPU != nil {
		g := max(spec.Grain, 1)
		return &kernel{name: spec.Name, fn: spec.CPU, grain: func([]backend.Arg, backend.Grid) int { return g }}, nil
	}
	if spec.MSL != "" || spec.CUDA != "" {
		return nil, fmt.Errorf("cpu: kernel %q has no CPU implementation", spec.Name)
	}
	return builtin(spec)
}

// Begin returns an encoder that runs each dispatch as it is recorded.
// The encoder of the last Commit is reused (an encoder must not be used
// after Commit), so a forward call's Begin allocates nothing.
func (b *Backend) Begin() backend.Encoder {
	if e := b.spare; e != nil {
		b.spare = nil
		*e = encoder{b: b}
		return e
	}
	return &encoder{b: b}
}

// Sync returns (and clears) the first error of the committed encoders.
func (b *Backend) Sync() error {
	err := b.err
	b.err = nil
	return err
}

// Close marks the backend closed and returns the memory of its mapped
// buffers to the system (buffers die with the backend).
func (b *Backend) Close() error {
	b.closed = true
	for _, m := range b.mapped {
		osFree(m.data)
		m.data = nil
	}
	b.mapped = nil
	return nil
}

type encoder struct {
	b    *Backend
	err  error
	done bool
}

func (e *encoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.err != nil {
		return
	}
	if e.done {
		e.err = errors.New("cpu: Dispatch after Commit")
		return
	}
	kk, ok := k.(*kernel)
	if !ok || kk == nil {
		e.err = fmt.Errorf("cpu: kernel %T was not loaded by the cpu backend", k)
		return
	}
	if kk.sig != "" && !sigMatches(kk.sig, args) {
		got := make([]byte, len(args))
		for i, a := range args {
			got[i] = kindLetter[a.Kind]
		}
		e.err = fmt.Errorf("cpu: %s takes arguments %q (b buffer, i int, f float), got %q", kk.name, kk.sig, got)
		return
	}
	for i, a := range args {
		if a.Kind == backend.ArgBuffer {
			hb, err := hostBuf(a.Buf)
			if err != nil {
				e.err = fmt.Errorf("cpu: %s arg %d: %w", kk.name, i, err)
				return
			}
			if a.Off < 0 || a.Off > len(hb.data) {
				e.err = fmt.Errorf("cpu: %s arg %d: offset %d outside a %d-byte buffer", kk.name, i, a.Off, len(hb.data))
				return
			}
		}
	}
	e.err = e.b.run(kk, g, args)
}

func (e *encoder) Commit() error {
	if e.done {
		return e.err
	}
	e.done = true
	if e.err != nil && e.b.err == nil {
		e.b.err = e.err
	}
	e.b.spare = e
	return e.err
}

// run splits the grid's items over workers: the calling goroutine and
// up to Threads()−1 helpers of the package's pool take chunks of items
// from a shared counter. Which worker computes an item does not change
// its value: items are independent and each is computed whole.
func (b *Backend) run(k *kernel, g backend.Grid, args []backend.Arg) error {
	n := g.Items()
	if g.X < 0 || g.Y < 0 || g.Z < 0 {
		return fmt.Errorf("cpu: %s: negative grid %+v", k.name, g)
	}
	grain := max(k.grain(args, g), 1)
	workers := min(b.Threads(), (n+grain-1)/grain)
	if k.prep != nil {
		if err := prepare(k, backend.CPUCall{Args: args, Grid: g, Lo: 0, Hi: n}, &b.prep); err != nil {
			return err
		}
	}
	if workers <= 1 {
		return call(k, backend.CPUCall{Args: args, Grid: g, Lo: 0, Hi: n}, &b.prep)
	}
	t := &b.task
	t.k, t.args, t.g, t.n, t.p = k, args, g, n, &b.prep
	t.chunk = max(grain, (n+workers*4-1)/(workers*4))
	t.next.Store(0)
	t.errs = t.errs[:0]
	helpers := workers - 1
	t.wg.Add(helpers)
	startHelpers(helpers)
	for range helpers {
		work <- t
	}
	t.work()
	t.wg.Wait()
	if len(t.errs) > 0 {
		return errors.Join(t.errs...)
	}
	return nil
}

// call runs one range, turning a panic (bad arguments) into an error.
func call(k *kernel, c backend.CPUCall, p *prepared) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cpu: kernel %s failed (bad arguments?): %v", k.name, r)
		}
	}()
	if k.fnp != nil {
		k.fnp(c, p)
		return nil
	}
	k.fn(c)
	return nil
}

// prepare runs k.prep, turning a panic (bad arguments) into an error.
func prepare(k *kernel, c backend.CPUCall, p *prepared) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cpu: kernel %s failed (bad arguments?): %v", k.name, r)
		}
	}()
	k.prep(c, p)
	return nil
}

// Numerics returns both profiles: the cpu backend implements plain and
// ggml-cpu.
func (b *Backend) Numerics() []backend.Numerics { return backend.Profiles() }
