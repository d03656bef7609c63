package cuda

import (
	"errors"
	"fmt"
	"time"

	"github.com/metallic-go/metallic/backend"
)

// Backend is the cuda backend: one stream on the process's device. Open it
// with backend.Open("cuda"). Like every Backend it is driven by one
// goroutine; several Backends may share the device.
type Backend struct {
	dev    *device
	drv    driver
	cfg    config
	stream handle

	live     map[*buffer]struct{} // buffers to free at Close
	graphs   graphCache
	prof     profiler
	inflight flight // work committed since the last completed wait
	err      error  // first error of committed work, reported by Sync
	closed   bool
	spare    *recording    // slices of a finished encoder, reused
	waited   time.Duration // time spent polling for the GPU (Waited)
	pdl      bool          // launches allow programmatic dependent launch (pdlOff)
}

// newBackend creates a Backend with its own stream on dev.
func newBackend(dev *device, cfg config) (*Backend, error) {
	b := &Backend{dev: dev, drv: dev.drv, cfg: cfg, live: map[*buffer]struct{}{}}
	b.graphs.init(cfg.graphMax)
	b.pdl = b.pdlOff() == ""
	err := b.drv.run(func() error {
		var err error
		b.stream, err = b.drv.streamCreate()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: creating a stream: %w", err)
	}
	return b, nil
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Numerics returns [plain]: the hand-written kernels implement the plain
// contract only.
func (b *Backend) Numerics() []backend.Numerics { return []backend.Numerics{backend.Plain} }

// Sync waits (at most METALLIC_CUDA_TIMEOUT) until every committed batch
// has finished and returns the first error any of them met, naming the
// driver's error and the kernels in flight. It clears the error.
func (b *Backend) Sync() error {
	if b.closed {
		return errors.New("cuda: Sync on a closed backend")
	}
	werr := b.wait("Sync")
	err := b.err
	b.err = nil
	if err == nil {
		err = werr // a timeout
	}
	return err
}

// setErr keeps the first error of committed work for Sync.
func (b *Backend) setErr(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// Close waits for the work in flight, then frees the backend's buffers,
// graphs, events and stream. Kernels stay loaded in the process (the module
// cache is shared by every Backend). Using the backend afterwards is an
// error.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	var errs []error
	if err := b.wait("Close"); err != nil {
		if isTimeout(err) {
			// Kernels still run on this memory: leak it rather than free
			// it under them.
			b.closed = true
			return err
		}
		errs = append(errs, err)
	}
	b.closed = true
	err := b.drv.run(func() error {
		var errs []error
		for x := range b.live {
			if x.ptr != 0 {
				errs = append(errs, b.drv.free(x.ptr))
			}
			x.freed, x.ptr = true, 0
		}
		b.live = nil
		errs = append(errs, b.graphs.destroyAll(b.drv)...)
		errs = append(errs, b.prof.destroy(b.drv)...)
		errs = append(errs, b.drv.streamDestroy(b.stream))
		return errors.Join(errs...)
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("cuda: Close: %w", err))
	}
	return errors.Join(errs...)
}

// checkOpen returns an error once the backend is closed.
func (b *Backend) checkOpen(op string) error {
	if b.closed {
		return fmt.Errorf("cuda: %s on a closed backend", op)
	}
	return nil
}
