package repro

import (
	"errors"
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// recorder is a backend that passes every call to the backend it wraps
// and remembers, for the latest dispatch, its kernel, grid, arguments and
// the contents of its buffers just before it ran: the inputs of a
// repro. To read those contents it commits and waits for the work
// recorded before each dispatch, which changes batching, not results.
type recorder struct {
	inner backend.Backend
	last  *dispatch
	err   error // the first error of a snapshot
	// loaded are the specs of every kernel loaded through it, in order.
	loaded []backend.KernelSpec
}

// recBuf is a buffer of the recorder: the inner backend's buffer, and
// for a wrapped one the host bytes it wraps (read-only: no download).
type recBuf struct {
	inner   backend.Buffer
	size    int
	wrapped []byte
}

func (b *recBuf) Size() int { return b.size }

// recKernel is a loaded kernel and the spec it was loaded from.
type recKernel struct {
	inner backend.Kernel
	spec  backend.KernelSpec
}

func (k *recKernel) Name() string { return k.inner.Name() }

// dispatch is one recorded dispatch.
type dispatch struct {
	spec backend.KernelSpec
	grid backend.Grid
	args []backend.Arg // the recorder's buffers
	// before is every buffer argument's whole contents before the
	// dispatch ran (aliasing the wrapped bytes for a wrapped buffer).
	before map[*recBuf][]byte
}

func newRecorder(inner backend.Backend) *recorder { return &recorder{inner: inner} }

func (r *recorder) Name() string                 { return r.inner.Name() }
func (r *recorder) Numerics() []backend.Numerics { return r.inner.Numerics() }
func (r *recorder) Sync() error                  { return r.inner.Sync() }
func (r *recorder) Close() error                 { return r.inner.Close() }

// Describe is the wrapped backend's provenance line, when it has one.
func (r *recorder) Describe() string {
	if d, ok := r.inner.(interface{ Describe() string }); ok {
		return d.Describe()
	}
	return r.inner.Name()
}

func (r *recorder) Alloc(n int) (backend.Buffer, error) {
	b, err := r.inner.Alloc(n)
	if err != nil {
		return nil, err
	}
	return &recBuf{inner: b, size: n}, nil
}

func (r *recorder) Wrap(data []byte) (backend.Buffer, error) {
	b, err := r.inner.Wrap(data)
	if err != nil {
		return nil, err
	}
	return &recBuf{inner: b, size: len(data), wrapped: data}, nil
}

// own returns the inner buffer of one of the recorder's buffers.
func own(b backend.Buffer) backend.Buffer {
	if rb, ok := b.(*recBuf); ok {
		return rb.inner
	}
	return b
}

func (r *recorder) Upload(dst backend.Buffer, off int, src []byte) error {
	return r.inner.Upload(own(dst), off, src)
}

func (r *recorder) Download(dst []byte, src backend.Buffer, off int) error {
	return r.inner.Download(dst, own(src), off)
}

func (r *recorder) Free(b backend.Buffer) { r.inner.Free(own(b)) }

func (r *recorder) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	k, err := r.inner.Load(spec)
	if err != nil {
		return nil, err
	}
	r.loaded = append(r.loaded, spec)
	return &recKernel{inner: k, spec: spec}, nil
}

func (r *recorder) Begin() backend.Encoder { return &recEncoder{r: r, inner: r.inner.Begin()} }

// contents reads a buffer's whole contents as they are now.
func (r *recorder) contents(b *recBuf) ([]byte, error) {
	if b.wrapped != nil {
		return b.wrapped, nil
	}
	out := make([]byte, b.size)
	if err := r.inner.Download(out, b.inner, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// recEncoder records dispatches into the inner backend's encoder, taking
// each dispatch's snapshot first.
type recEncoder struct {
	r     *recorder
	inner backend.Encoder
	n     int // dispatches in inner
	err   error
}

func (e *recEncoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.err != nil {
		return
	}
	rk, ok := k.(*recKernel)
	if !ok {
		e.err = fmt.Errorf("repro: kernel %T was not loaded through the recorder", k)
		return
	}
	if e.n > 0 { // the buffers must hold what this dispatch reads
		if err := e.inner.Commit(); err != nil {
			e.err = err
			return
		}
		if err := e.r.inner.Sync(); err != nil {
			e.err = err
			return
		}
		e.inner, e.n = e.r.inner.Begin(), 0
	}
	d := &dispatch{spec: rk.spec, grid: g, args: append([]backend.Arg(nil), args...), before: map[*recBuf][]byte{}}
	inner := make([]backend.Arg, len(args))
	for i, a := range args {
		inner[i] = a
		if a.Kind != backend.ArgBuffer {
			continue
		}
		rb, ok := a.Buf.(*recBuf)
		if !ok {
			e.err = errors.New("repro: a dispatch argument is not a buffer of the recorder")
			return
		}
		inner[i].Buf = rb.inner
		if _, done := d.before[rb]; !done {
			data, err := e.r.contents(rb)
			if err != nil {
				e.err = err
				return
			}
			d.before[rb] = data
		}
	}
	e.r.last = d
	e.inner.Dispatch(rk.inner, g, inner...)
	e.n++
}

func (e *recEncoder) Commit() error {
	if e.err != nil {
		e.inner.Commit()
		return e.err
	}
	return e.inner.Commit()
}
