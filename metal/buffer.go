package metal

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
)

// buffer is shared-storage memory (MTLStorageModeShared) of one Backend:
// the CPU and the GPU address the same bytes, so it is a
// backend.HostBuffer and Download is a copy out of it.
type buffer struct {
	b      *Backend
	mtl    id      // the MTLBuffer (0 for an empty buffer)
	region *region // the no-copy region this buffer views, nil when it owns mtl
	off    int     // the buffer's first byte in mtl (views of a region)
	size   int
	ptr    uintptr // host address of the first byte (contents + off)
	// wrapped buffers are read-only: Upload into one is an error.
	wrapped bool
	freed   bool
}

// region is mapped host memory wrapped once with
// newBufferWithBytesNoCopy (page-aligned, whole pages): a model's tensors
// are views of it at their offsets, however GGUF aligns them.
type region struct {
	mtl  id
	base uintptr
	size int
	refs int // live views
}

// Size is the buffer's length in bytes.
func (x *buffer) Size() int { return x.size }

// Bytes is the buffer's memory (shared storage). It aliases the buffer;
// read it after Sync, when no command buffer writes it.
func (x *buffer) Bytes() []byte {
	if x.size == 0 || x.ptr == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptrOf(x.ptr)), x.size)
}

func (x *buffer) String() string {
	return fmt.Sprintf("metal.buffer(%d bytes at %#x)", x.size, x.ptr)
}

// ptrOf converts an address Metal returned (memory outside the Go heap,
// or Go memory the backend keeps alive) to a pointer.
func ptrOf(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// own returns x as a live buffer of b, or an error saying why it is not.
func (b *Backend) own(x backend.Buffer) (*buffer, error) {
	buf, ok := x.(*buffer)
	switch {
	case !ok || buf == nil:
		return nil, fmt.Errorf("buffer %T was not made by the metal backend", x)
	case buf.b != b:
		return nil, errors.New("buffer belongs to another metal backend")
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

// mib rounds bytes up to MiB.
func mib(n uint64) uint64 { return (n + 1<<20 - 1) >> 20 }

// Alloc returns a zero-filled shared buffer of n bytes. It fails clearly
// when n exceeds the device's maxBufferLength or Metal has no memory.
func (b *Backend) Alloc(n int) (backend.Buffer, error) {
	if err := b.checkOpen("Alloc"); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("metal: Alloc(%d): negative size", n)
	}
	x := &buffer{b: b, size: n}
	if n > 0 {
		if n > b.dev.info.maxBuffer {
			return nil, fmt.Errorf("metal: Alloc(%d): %d MiB exceeds %s's maxBufferLength of %d MiB", n, mib(uint64(n)), b.dev.info.name, mib(uint64(b.dev.info.maxBuffer)))
		}
		err := b.dev.run(func() error {
			x.mtl = b.o.sendID(msgNewBufferWithLength, b.dev.dev, uintptr(n), resourceStorageModeShared)
			if x.mtl == 0 {
				used := mib(uint64(b.o.send(msgCurrentAllocatedSize, b.dev.dev)))
				return fmt.Errorf("metal: Alloc(%d): newBufferWithLength:options: returned nil (%d MiB asked, %d MiB allocated on %s, %d MiB recommended working set)",
					n, mib(uint64(n)), used, b.dev.info.name, mib(b.dev.info.workingSet))
			}
			if l := int(b.o.send(msgLength, x.mtl)); l < n {
				b.o.release(x.mtl)
				return fmt.Errorf("metal: Alloc(%d): Metal returned a buffer of %d bytes", n, l)
			}
			x.ptr = b.o.send(msgContents, x.mtl)
			return nil
		})
		if err != nil {
			return nil, err
		}
		clear(x.Bytes())
	}
	b.live[x] = struct{}{}
	return x, nil
}

// Wrap returns a read-only buffer over data without copying it when the
// memory allows: data inside a read-only mapping (a model file mapped by
// gguf.Open) is bound by offset into one newBufferWithBytesNoCopy
// wrapping of the whole mapping, made once (or of the tensor's own pages
// when the mapping is larger than maxBufferLength). Other memory (the Go
// heap, writable mappings, memory Metal will not wrap) is copied into a
// new shared buffer. data must stay valid and unchanged while the buffer
// is in use.
func (b *Backend) Wrap(data []byte) (backend.Buffer, error) {
	if err := b.checkOpen("Wrap"); err != nil {
		return nil, err
	}
	n := len(data)
	if n == 0 {
		x := &buffer{b: b, wrapped: true}
		b.live[x] = struct{}{}
		return x, nil
	}
	p := uintptr(unsafe.Pointer(&data[0]))
	r, err := b.regionFor(p, n)
	if err != nil {
		return nil, err
	}
	if r != nil {
		r.refs++
		x := &buffer{b: b, mtl: r.mtl, region: r, off: int(p - r.base), size: n, ptr: p, wrapped: true}
		b.live[x] = struct{}{}
		return x, nil
	}
	if n > b.dev.info.maxBuffer {
		return nil, fmt.Errorf("metal: Wrap(%d bytes): exceeds %s's maxBufferLength of %d MiB", n, b.dev.info.name, mib(uint64(b.dev.info.maxBuffer)))
	}
	x := &buffer{b: b, size: n, wrapped: true}
	err = b.dev.run(func() error {
		x.mtl = b.o.sendID(msgNewBufferWithBytes, b.dev.dev, uintptr(unsafe.Pointer(&data[0])), uintptr(n), resourceStorageModeShared)
		if x.mtl == 0 {
			return fmt.Errorf("metal: Wrap(%d bytes): newBufferWithBytes:length:options: returned nil", n)
		}
		x.ptr = b.o.send(msgContents, x.mtl)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.live[x] = struct{}{}
	b.copied++
	return x, nil
}

// regionFor returns the no-copy region holding [p, p+n), wrapping one
// when the memory is a read-only mapping, or nil when the bytes must be
// copied instead.
func (b *Backend) regionFor(p uintptr, n int) (*region, error) {
	for _, r := range b.regions {
		if p >= r.base && p+uintptr(n) <= r.base+uintptr(r.size) {
			return r, nil
		}
	}
	start, size, writable, ok := b.o.rt.vmRegion(p)
	if !ok || writable || p < start || p+uintptr(n) > start+size {
		return nil, nil
	}
	page := uintptr(b.dev.info.page)
	if page == 0 || start%page != 0 || size%page != 0 {
		return nil, nil
	}
	if size > uintptr(b.dev.info.maxBuffer) {
		// The mapping is too large for one MTLBuffer: wrap the tensor's
		// own pages (neighbouring tensors may wrap some of them again).
		start = p &^ (page - 1)
		size = (p+uintptr(n)+page-1)&^(page-1) - start
		if size > uintptr(b.dev.info.maxBuffer) {
			return nil, fmt.Errorf("metal: Wrap(%d bytes): a tensor larger than %s's maxBufferLength of %d MiB", n, b.dev.info.name, mib(uint64(b.dev.info.maxBuffer)))
		}
	}
	for _, f := range b.noCopyFailed {
		if start == f {
			return nil, nil
		}
	}
	r := &region{base: start, size: int(size)}
	err := b.dev.run(func() error {
		r.mtl = b.o.sendID(msgNewBufferWithBytesNoCopy, b.dev.dev, start, size, resourceStorageModeShared, 0)
		if r.mtl == 0 {
			return errNoCopy
		}
		if c := b.o.send(msgContents, r.mtl); c != start {
			b.o.release(r.mtl)
			return fmt.Errorf("metal: Wrap: the no-copy buffer's contents are at %#x, not at the wrapped memory %#x", c, start)
		}
		return nil
	})
	if err == errNoCopy {
		// Metal would not wrap this memory (a segment of the executable
		// holding embedded data, say): copy its tensors instead, and do
		// not ask again.
		b.noCopyFailed = append(b.noCopyFailed, start)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.regions = append(b.regions, r)
	return r, nil
}

// errNoCopy is newBufferWithBytesNoCopy returning nil.
var errNoCopy = errors.New("metal: newBufferWithBytesNoCopy returned nil")

// Upload copies src into dst at byte offset off, after every committed
// command buffer (they may read dst).
func (b *Backend) Upload(dst backend.Buffer, off int, src []byte) error {
	if err := b.checkOpen("Upload"); err != nil {
		return err
	}
	x, err := b.own(dst)
	if err != nil {
		return fmt.Errorf("metal: Upload: %w", err)
	}
	if x.wrapped {
		return errors.New("metal: Upload into a wrapped (read-only) buffer")
	}
	if err := span(off, len(src), x.size); err != nil {
		return fmt.Errorf("metal: Upload: %w", err)
	}
	if len(src) == 0 {
		return nil
	}
	if err := b.wait("Upload"); err != nil {
		return err
	}
	copy(x.Bytes()[off:], src)
	return nil
}

// Download copies len(dst) bytes of src from byte offset off into dst,
// after every committed command buffer.
func (b *Backend) Download(dst []byte, src backend.Buffer, off int) error {
	if err := b.checkOpen("Download"); err != nil {
		return err
	}
	x, err := b.own(src)
	if err != nil {
		return fmt.Errorf("metal: Download: %w", err)
	}
	if err := span(off, len(dst), x.size); err != nil {
		return fmt.Errorf("metal: Download: %w", err)
	}
	if len(dst) == 0 {
		return nil
	}
	if err := b.wait("Download"); err != nil {
		return err
	}
	copy(dst, x.Bytes()[off:])
	return nil
}

// Free releases a buffer once the work in flight (which may use it) has
// finished. Freeing a buffer twice, a nil buffer or another backend's
// buffer does nothing; using a freed buffer is an error. A region is
// released with its last view.
func (b *Backend) Free(x backend.Buffer) {
	buf, err := b.own(x)
	if err != nil || b.closed {
		return
	}
	buf.freed = true
	delete(b.live, buf)
	if buf.mtl == 0 {
		return
	}
	if b.wait("Free") != nil {
		return // the memory may still be in use: leak it rather than corrupt
	}
	mtl, r := buf.mtl, buf.region
	buf.mtl, buf.ptr = 0, 0
	if r != nil {
		if r.refs--; r.refs > 0 {
			return
		}
		for i, q := range b.regions {
			if q == r {
				b.regions = append(b.regions[:i], b.regions[i+1:]...)
				break
			}
		}
	}
	b.dev.run(func() error {
		b.o.release(mtl)
		return nil
	})
}
