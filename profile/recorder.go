// Package profile times every kernel a path dispatches during decode —
// `paritycheck bench --profile` — so that a speed regression can be
// localized to a kernel as a numerical one is to a checkpoint.
//
// A Recorder wraps the backend a reference or dsl path opens
// (model.PathOptions.WrapBackend): it passes every call through unchanged
// and notes each dispatch's kernel, grid and the bytes it moves (Bytes).
// Times come from the backend's own timer where it has one — the cuda
// backend's SetProfiling/Profile, CUDA events around every launch — and
// otherwise, on the cpu backend, which runs each dispatch synchronously
// inside Dispatch, from the wall time of each Dispatch call.
package profile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/cuda"
)

// Timers: how a Report's kernel times were measured.
const (
	// TimerEvents: the backend's own per-launch timer (CUDA events on
	// cuda), read after the work ran.
	TimerEvents = "gpu events"
	// TimerWall: the host's wall time of each Dispatch call, which on the
	// cpu backend runs the kernel to completion.
	TimerWall = "wall time per dispatch"
)

// eventTimer is the cuda backend's profiling seam (and a test backend's).
type eventTimer interface {
	SetProfiling(on bool) error
	Profile() ([]cuda.KernelTime, error)
}

// dispatch is one recorded dispatch.
type dispatch struct {
	name      string // KernelSpec.Name
	label, op string
	bytes     float64
	ms        float64
}

// Recorder observes one backend. Use Wrap as model.PathOptions.WrapBackend,
// then Start, Mark before each forward call, and Stop.
type Recorder struct {
	inner   backend.Backend
	wrapped map[backend.Buffer]bool // weights: buffers made by Wrap
	// gathered are the wrapped buffers of the token embedding, with its
	// row count (SetEmbedding): a composed "embed" kernel reads T rows.
	gathered map[backend.Buffer]int
	embd     *byte // first byte of the token embedding's data
	embdRows int
	on       bool
	pos, t   int // the forward call being recorded (Mark)
	ds       []dispatch
	err      error
}

// NewRecorder returns a recorder with no backend yet.
func NewRecorder() *Recorder {
	return &Recorder{wrapped: map[backend.Buffer]bool{}, gathered: map[backend.Buffer]int{}}
}

// SetEmbedding names the token embedding's bytes and row count: a
// composed kernel named embed… reads only the call's rows of its buffer
// (Bytes).
func (r *Recorder) SetEmbedding(data []byte, rows int) {
	if len(data) > 0 {
		r.embd, r.embdRows = &data[0], rows
	}
}

// Wrap returns b observed by r (model.PathOptions.WrapBackend). A recorder
// observes one backend: a second Wrap is an error reported by Start.
func (r *Recorder) Wrap(b backend.Backend) backend.Backend {
	if r.inner != nil {
		r.err = errors.New("profile: one recorder observes one backend (the path opened a second)")
		return b
	}
	r.inner = b
	return &wrapper{Backend: b, r: r}
}

// Timer says how r times kernels: TimerEvents when its backend has its own
// timer, TimerWall on the cpu backend; "" otherwise (no way to time).
func (r *Recorder) Timer() string {
	if r.inner == nil {
		return ""
	}
	if _, ok := r.inner.(eventTimer); ok {
		return TimerEvents
	}
	if r.inner.Name() == "cpu" {
		return TimerWall
	}
	return ""
}

// Start begins recording (and the backend's own timer).
func (r *Recorder) Start() error {
	switch {
	case r.err != nil:
		return r.err
	case r.inner == nil:
		return errors.New("profile: the path opened no backend to observe (llamacpp runs llama.cpp's own kernels)")
	case r.Timer() == "":
		return fmt.Errorf("profile: backend %s has no per-kernel timer (SetProfiling/Profile) and does not run dispatches synchronously", r.inner.Name())
	}
	if et, ok := r.inner.(eventTimer); ok {
		if err := et.SetProfiling(true); err != nil {
			return err
		}
		if _, err := et.Profile(); err != nil { // drop what ran before
			return err
		}
	}
	r.on, r.ds = true, nil
	return nil
}

// Mark tells r the position and length of the next forward call (the
// attention's bytes depend on the cached positions it reads).
func (r *Recorder) Mark(pos, t int) { r.pos, r.t = pos, t }

// Stop ends recording and returns the recorded dispatches with their
// times; with the backend's own timer its launches are matched to the
// dispatches in order.
func (r *Recorder) Stop() ([]dispatch, error) {
	r.on = false
	ds := r.ds
	r.ds = nil
	et, ok := r.inner.(eventTimer)
	if !ok {
		return ds, r.err
	}
	times, err := et.Profile()
	if off := et.SetProfiling(false); err == nil {
		err = off
	}
	if err != nil {
		return nil, err
	}
	// One launch per dispatch, in order (a backend that skipped one, or
	// launched two, is refused rather than misattributed).
	if len(times) != len(ds) {
		return nil, fmt.Errorf("profile: %s timed %d launches for the %d dispatches recorded", r.inner.Name(), len(times), len(ds))
	}
	for i := range ds {
		if k := times[i].Kernel; k != "" && !strings.HasPrefix(k, ds[i].name) {
			return nil, fmt.Errorf("profile: %s's launch %d is %s, but dispatch %d was %s", r.inner.Name(), i, k, i, ds[i].name)
		}
		ds[i].ms = times[i].Ms
	}
	return ds, r.err
}

// wrapper is the observed backend: every call passes through.
type wrapper struct {
	backend.Backend
	r *Recorder
}

// Describe is the inner backend's provenance line.
func (w *wrapper) Describe() string {
	if d, ok := w.Backend.(interface{ Describe() string }); ok {
		return d.Describe()
	}
	return w.Backend.Name()
}

// Wrap notes the buffer as a weight.
func (w *wrapper) Wrap(data []byte) (backend.Buffer, error) {
	b, err := w.Backend.Wrap(data)
	if err == nil {
		w.r.wrapped[b] = true
		if len(data) > 0 && &data[0] == w.r.embd {
			w.r.gathered[b] = w.r.embdRows
		}
	}
	return b, err
}

// Load loads the kernel and keeps its spec for the byte estimates.
func (w *wrapper) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	k, err := w.Backend.Load(spec)
	if err != nil {
		return nil, err
	}
	return &kernel{Kernel: k, spec: spec}, nil
}

// Begin returns an observing encoder.
func (w *wrapper) Begin() backend.Encoder { return &encoder{Encoder: w.Backend.Begin(), r: w.r} }

type kernel struct {
	backend.Kernel
	spec backend.KernelSpec
}

type encoder struct {
	backend.Encoder
	r *Recorder
}

// Dispatch records the dispatch (and its wall time on the cpu backend)
// and passes it on.
func (e *encoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	kk, ok := k.(*kernel)
	if !ok {
		e.Encoder.Dispatch(k, g, args...) // the backend reports the foreign kernel
		return
	}
	r := e.r
	if !r.on {
		e.Encoder.Dispatch(kk.Kernel, g, args...)
		return
	}
	d := dispatch{name: kk.spec.Name, label: label(kk.spec, g, args), op: opOf(kk.spec)}
	d.bytes = r.bytes(kk.spec, g, args)
	if r.Timer() == TimerWall {
		start := time.Now()
		e.Encoder.Dispatch(kk.Kernel, g, args...)
		d.ms = float64(time.Since(start).Nanoseconds()) / 1e6
	} else {
		e.Encoder.Dispatch(kk.Kernel, g, args...)
	}
	r.ds = append(r.ds, d)
}
