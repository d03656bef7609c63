package metal

import (
	"errors"
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// Backend is the metal backend: one command queue on the process's
// device. Open it with backend.Open("metal"). Like every Backend it is
// driven by one goroutine; several Backends may share the device (and its
// pipeline cache).
type Backend struct {
	dev   *device
	o     *objc
	cfg   config
	queue id

	live    map[*buffer]struct{} // buffers to release at Close
	regions []*region            // no-copy wrappings of mapped memory
	// noCopyFailed are regions Metal would not wrap (their start): their
	// tensors are copied.
	noCopyFailed []uintptr
	copied       int      // wrapped buffers that were copied
	inflight     []*batch // committed, not yet waited for
	err          error    // first error of committed work, reported by Sync
	closed       bool
	prof         profiler
	spare        *recording // slices of a finished encoder, reused
	// outCell is heap memory for a message's out-parameter.
	outCell id
}

// newBackend creates a Backend with its own command queue on d.
func newBackend(d *device, cfg config) (*Backend, error) {
	b := &Backend{dev: d, o: d.o, cfg: cfg, live: map[*buffer]struct{}{}}
	err := d.run(func() error {
		b.queue = b.o.sendID(msgNewCommandQueue, d.dev)
		if b.queue == 0 {
			return errors.New("metal: newCommandQueue returned nil")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Name returns "metal".
func (b *Backend) Name() string { return "metal" }

// Numerics returns [plain]: the hand-written kernels implement the plain
// contract only.
func (b *Backend) Numerics() []backend.Numerics { return []backend.Numerics{backend.Plain} }

// Sync waits (at most METALLIC_METAL_TIMEOUT) until every committed
// command buffer has finished and returns the first error any of them met,
// naming Metal's error and the dispatches of the failing command buffer.
// It clears the error.
func (b *Backend) Sync() error {
	if b.closed {
		return errors.New("metal: Sync on a closed backend")
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

// checkOpen returns an error once the backend is closed.
func (b *Backend) checkOpen(op string) error {
	if b.closed {
		return fmt.Errorf("metal: %s on a closed backend", op)
	}
	return nil
}

// Close waits for the work in flight, then releases the backend's
// buffers, wrapped regions and command queue. Pipelines stay compiled in
// the process (every Backend on the device shares them). Using the
// backend afterwards is an error.
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
	b.dev.run(func() error {
		for x := range b.live {
			if x.region == nil {
				b.o.release(x.mtl)
			}
			x.freed, x.mtl, x.ptr = true, 0, 0
		}
		for _, r := range b.regions {
			b.o.release(r.mtl)
		}
		b.live, b.regions = nil, nil
		b.o.release(b.queue)
		b.queue = 0
		return nil
	})
	return errors.Join(errs...)
}
