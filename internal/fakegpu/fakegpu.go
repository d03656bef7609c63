// Package fakegpu is a test backend that stands in for a GPU on machines
// without one: the cpu backend's kernels behind another name, implementing
// only the plain numerics profile (as the cuda backend does), with the
// cuda backend's optional seams (Describe, SetProfiling/Profile) and a
// count of every call that crosses the host–device boundary. Registered
// under a name of the test's choosing ("fake"), it lets
// `--paths reference@cpu,reference@fake` exercise every code path that
// `reference@cpu,reference@cuda` takes, and lets tests assert that a path
// without a hook downloads only its logits.
//
// Only tests import it.
package fakegpu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/cuda"
)

// Counts are the calls a Backend has seen since it was opened.
type Counts struct {
	Uploads, Downloads, Syncs, Begins, Commits, Dispatches int64
	// DownloadBytes is the total size of the downloads.
	DownloadBytes int64
}

var (
	mu         sync.Mutex
	registered = map[string]bool{}
	opened     = map[string]*Backend{}
)

// Register registers the fake backend under name once per process (later
// calls with the same name do nothing), with cpu workers as the options
// say. It panics when name is taken by another backend.
func Register(name string) {
	mu.Lock()
	defer mu.Unlock()
	if registered[name] {
		return
	}
	registered[name] = true
	backend.Register(name, func(o backend.Options) (backend.Backend, error) {
		b := &Backend{cpu: cpu.New(o), name: name}
		mu.Lock()
		opened[name] = b
		mu.Unlock()
		return b, nil
	})
}

// Last returns the backend most recently opened under name (nil if none).
func Last(name string) *Backend {
	mu.Lock()
	defer mu.Unlock()
	return opened[name]
}

// Backend is the fake: a cpu backend under another name, plain only.
type Backend struct {
	cpu  *cpu.Backend
	name string
	n    struct {
		uploads, downloads, syncs, begins, commits, dispatches, downloadBytes atomic.Int64
	}
	profiling bool
	times     []cuda.KernelTime
}

// Counts returns the calls seen so far.
func (b *Backend) Counts() Counts {
	return Counts{Uploads: b.n.uploads.Load(), Downloads: b.n.downloads.Load(), Syncs: b.n.syncs.Load(),
		Begins: b.n.begins.Load(), Commits: b.n.commits.Load(), Dispatches: b.n.dispatches.Load(),
		DownloadBytes: b.n.downloadBytes.Load()}
}

// Name is the name it was registered under.
func (b *Backend) Name() string { return b.name }

// Numerics is plain only, as a GPU backend's.
func (b *Backend) Numerics() []backend.Numerics { return []backend.Numerics{backend.Plain} }

// Describe is the provenance line, as cuda's Describe.
func (b *Backend) Describe() string {
	return fmt.Sprintf("%s: the cpu backend's kernels presented as a GPU backend (plain numerics only; %d cpu workers)", b.name, b.cpu.Threads())
}

// Alloc allocates on the cpu backend.
func (b *Backend) Alloc(n int) (backend.Buffer, error) { return b.cpu.Alloc(n) }

// Wrap copies data, as a GPU backend's Wrap does (the cpu's aliases).
func (b *Backend) Wrap(data []byte) (backend.Buffer, error) {
	buf, err := b.cpu.Alloc(len(data))
	if err != nil {
		return nil, err
	}
	copy(buf.(backend.HostBuffer).Bytes(), data)
	return buf, nil
}

// Upload counts and copies.
func (b *Backend) Upload(dst backend.Buffer, off int, src []byte) error {
	b.n.uploads.Add(1)
	return b.cpu.Upload(dst, off, src)
}

// Download counts and copies.
func (b *Backend) Download(dst []byte, src backend.Buffer, off int) error {
	b.n.downloads.Add(1)
	b.n.downloadBytes.Add(int64(len(dst)))
	return b.cpu.Download(dst, src, off)
}

// Free frees on the cpu backend.
func (b *Backend) Free(x backend.Buffer) { b.cpu.Free(x) }

// Load refuses a built-in op under another profile than plain, naming it,
// as the cuda backend does; composed kernels run their CPU function.
func (b *Backend) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	builtin := spec.CPU == nil && spec.MSL == "" && spec.CUDA == ""
	if p := spec.Numerics; builtin && p != "" && p != backend.Plain {
		return nil, fmt.Errorf("%s: numerics %s is not implemented (have plain)", b.name, p)
	}
	if builtin && spec.Flash.On {
		return nil, fmt.Errorf("%s: flash attention is not implemented", b.name)
	}
	k, err := b.cpu.Load(spec)
	if err != nil {
		return nil, err
	}
	return &kernel{Kernel: k, label: label(spec)}, nil
}

// label names a kernel with its specialization, as cuda's profile does.
func label(s backend.KernelSpec) string {
	if s.CPU != nil || s.CUDA != "" || s.MSL != "" {
		return s.Name
	}
	return fmt.Sprintf("%s_%v_%s_%s", s.Name, s.Weight, s.In, s.Out)
}

type kernel struct {
	backend.Kernel
	label string
}

// Begin counts and starts a cpu encoder.
func (b *Backend) Begin() backend.Encoder {
	b.n.begins.Add(1)
	return &encoder{b: b, enc: b.cpu.Begin()}
}

// Sync counts and syncs.
func (b *Backend) Sync() error {
	b.n.syncs.Add(1)
	return b.cpu.Sync()
}

// Close closes the cpu backend.
func (b *Backend) Close() error { return b.cpu.Close() }

// SetProfiling turns per-dispatch timing on or off (cuda's seam: the
// bench's GPU code path).
func (b *Backend) SetProfiling(on bool) error {
	b.profiling = on
	return nil
}

// Profile returns the wall time of every dispatch run while profiling
// since the last call, in order, as cuda.KernelTime.
func (b *Backend) Profile() ([]cuda.KernelTime, error) {
	out := b.times
	b.times = nil
	return out, nil
}

type encoder struct {
	b   *Backend
	enc backend.Encoder
}

func (e *encoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	e.b.n.dispatches.Add(1)
	kk, ok := k.(*kernel)
	if !ok {
		e.enc.Dispatch(k, g, args...) // the cpu encoder reports the foreign kernel
		return
	}
	start := time.Now()
	e.enc.Dispatch(kk.Kernel, g, args...)
	if e.b.profiling {
		e.b.times = append(e.b.times, cuda.KernelTime{Kernel: kk.label, Grid: [3]int{max(g.X, 1), max(g.Y, 1), max(g.Z, 1)},
			Block: [3]int{1, 1, 1}, Ms: float64(time.Since(start).Nanoseconds()) / 1e6})
	}
}

func (e *encoder) Commit() error {
	e.b.n.commits.Add(1)
	return e.enc.Commit()
}
