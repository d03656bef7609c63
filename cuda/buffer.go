package cuda

import (
	"errors"
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// buffer is device memory owned by one Backend.
type buffer struct {
	b       *Backend
	ptr     devptr // 0 for an empty buffer
	size    int
	wrapped bool // made by Wrap: read-only for Upload
	freed   bool
}

// Size is the buffer's length in bytes.
func (x *buffer) Size() int { return x.size }

func (x *buffer) String() string {
	return fmt.Sprintf("cuda.buffer(%d bytes at %#x)", x.size, uint64(x.ptr))
}

// own returns x as a live buffer of b, or an error saying why it is not.
func (b *Backend) own(x backend.Buffer) (*buffer, error) {
	buf, ok := x.(*buffer)
	switch {
	case !ok || buf == nil:
		return nil, fmt.Errorf("buffer %T was not made by the cuda backend", x)
	case buf.b != b:
		return nil, errors.New("buffer belongs to another cuda backend")
	case buf.freed:
		return nil, errors.New("buffer was freed")
	}
	return buf, nil
}

// span checks that [off, off+n) lies inside a buffer of size bytes.
func span(off, n, size int) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%d bytes at offset %d overflow a %d-byte buffer", n, off, size)
	}
	return nil
}

// Alloc returns a zero-filled device buffer of n bytes. It fails clearly
// when the device has less than n bytes free.
func (b *Backend) Alloc(n int) (backend.Buffer, error) {
	x, err := b.alloc("Alloc", n)
	if err != nil || n == 0 {
		return x, err
	}
	err = b.drv.run(func() error { return b.drv.memsetAsync(x.ptr, n, b.stream) })
	if err != nil {
		b.Free(x)
		return nil, fmt.Errorf("cuda: Alloc(%d): zero-filling: %w", n, err)
	}
	return x, nil
}

// alloc allocates n bytes after checking them against the free memory.
func (b *Backend) alloc(op string, n int) (*buffer, error) {
	if err := b.checkOpen(op); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("cuda: %s(%d): negative size", op, n)
	}
	x := &buffer{b: b, size: n}
	if n == 0 {
		b.live[x] = struct{}{}
		return x, nil
	}
	err := b.drv.run(func() error {
		free, total, err := b.drv.memInfo()
		if err != nil {
			return err
		}
		if uint64(n) > free {
			return fmt.Errorf("%d MiB requested but only %d MiB of %d MiB are free on %s", mib(uint64(n)), mib(free), mib(total), b.dev.info.name)
		}
		x.ptr, err = b.drv.alloc(n)
		if err != nil {
			if free, total, e := b.drv.memInfo(); e == nil {
				err = fmt.Errorf("%w (%d MiB requested, %d MiB of %d MiB free)", err, mib(uint64(n)), mib(free), mib(total))
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: %s(%d): %w", op, n, err)
	}
	b.live[x] = struct{}{}
	return x, nil
}

// mib rounds bytes up to MiB.
func mib(n uint64) uint64 { return (n + 1<<20 - 1) >> 20 }

// Wrap copies data to a new device buffer once and returns it: weights are
// uploaded once and keep their GGUF encoding (quantized types stay
// quantized). Upload into a wrapped buffer is an error; data may be reused
// after Wrap returns.
func (b *Backend) Wrap(data []byte) (backend.Buffer, error) {
	x, err := b.alloc("Wrap", len(data))
	if err != nil {
		return nil, err
	}
	x.wrapped = true
	if len(data) == 0 {
		return x, nil
	}
	if err := b.copyIn(x, 0, data, "Wrap"); err != nil {
		b.Free(x)
		return nil, err
	}
	return x, nil
}

// Upload copies src into dst at byte offset off, after every committed
// batch (they may read dst).
func (b *Backend) Upload(dst backend.Buffer, off int, src []byte) error {
	if err := b.checkOpen("Upload"); err != nil {
		return err
	}
	x, err := b.own(dst)
	if err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	if x.wrapped {
		return errors.New("cuda: Upload into a wrapped (read-only) buffer")
	}
	if err := span(off, len(src), x.size); err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	if len(src) == 0 {
		return nil
	}
	return b.copyIn(x, off, src, "Upload")
}

// copyIn waits for the work in flight, then copies src to x at off and
// waits for the copy.
func (b *Backend) copyIn(x *buffer, off int, src []byte, op string) error {
	if err := b.wait(op); err != nil {
		return err
	}
	err := b.drv.run(func() error { return b.drv.htodAsync(x.ptr+devptr(off), src, b.stream) })
	if err != nil {
		err = fmt.Errorf("cuda: %s of %d bytes: %w", op, len(src), err)
		b.setErr(err)
		return err
	}
	return b.wait(op)
}

// Download copies len(dst) bytes of src from byte offset off into dst,
// after every committed batch.
func (b *Backend) Download(dst []byte, src backend.Buffer, off int) error {
	if err := b.checkOpen("Download"); err != nil {
		return err
	}
	x, err := b.own(src)
	if err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	if err := span(off, len(dst), x.size); err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	if len(dst) == 0 {
		return nil
	}
	// Wait first: a copy into pageable memory blocks until it is done,
	// which must not be behind a kernel that never ends.
	if err := b.wait("Download"); err != nil {
		return err
	}
	err = b.drv.run(func() error { return b.drv.dtohAsync(dst, x.ptr+devptr(off), b.stream) })
	if err != nil {
		err = fmt.Errorf("cuda: Download of %d bytes: %w", len(dst), err)
		b.setErr(err)
		return err
	}
	return b.wait("Download")
}

// Free releases a buffer once the work in flight (which may use it) has
// finished. Freeing a buffer twice, a nil buffer or another backend's
// buffer does nothing; using a freed buffer is an error.
func (b *Backend) Free(x backend.Buffer) {
	buf, err := b.own(x)
	if err != nil || b.closed {
		return
	}
	buf.freed = true
	delete(b.live, buf)
	if buf.ptr == 0 {
		return
	}
	if b.wait("Free") != nil {
		return // the memory may still be in use: leak it rather than corrupt
	}
	ptr := buf.ptr
	buf.ptr = 0
	if err := b.drv.run(func() error { return b.drv.free(ptr) }); err != nil {
		b.setErr(fmt.Errorf("cuda: Free: %w", err))
	}
}
