package metal

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
)

func mustAlloc(t *testing.T, b *Backend, n int) *buffer {
	t.Helper()
	x, err := b.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	return x.(*buffer)
}

func TestBuffers(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	x := mustAlloc(t, b, 100)
	if x.Size() != 100 || len(x.Bytes()) != 100 || !bytes.Equal(x.Bytes(), make([]byte, 100)) {
		t.Fatalf("Alloc(100): size %d, bytes %v", x.Size(), x.Bytes())
	}
	var hb backend.HostBuffer = x // shared storage: the CPU reads it in place
	if err := b.Upload(x, 7, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got := hb.Bytes()[6:11]; !bytes.Equal(got, []byte{0, 1, 2, 3, 0}) {
		t.Errorf("after Upload at 7: bytes %v", got)
	}
	got := make([]byte, 4)
	if err := b.Download(got, x, 6); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 3}) {
		t.Errorf("Download: %v %v", got, err)
	}
	empty := mustAlloc(t, b, 0)
	if empty.Size() != 0 || empty.Bytes() != nil || b.Upload(empty, 0, nil) != nil || b.Download(nil, empty, 0) != nil {
		t.Errorf("empty buffer: %+v", empty)
	}
	other := fakeBackend(t, newFakeRT())
	foreign := mustAlloc(t, other, 8)
	w, err := b.Wrap([]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	freed := mustAlloc(t, b, 8)
	b.Free(freed)
	b.Free(freed) // twice: nothing
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"upload overflow", b.Upload(x, 98, []byte{1, 2, 3}), "3 bytes at offset 98 overflow a 100-byte buffer"},
		{"negative offset", b.Download(got, x, -1), "offset -1"},
		{"download overflow", b.Download(make([]byte, 101), x, 0), "101 bytes at offset 0 overflow"},
		{"foreign", b.Upload(foreign, 0, []byte{1}), "another metal backend"},
		{"not metal", b.Upload(fakeBuf{}, 0, []byte{1}), "was not made by the metal backend"},
		{"freed", b.Download(got, freed, 0), "buffer was freed"},
		{"wrapped", b.Upload(w, 0, []byte{1}), "wrapped (read-only)"},
		{"negative alloc", allocErr(b, -1), "negative size"},
		{"over maxBufferLength", allocErr(b, 1<<33), "exceeds Fake Apple M0's maxBufferLength of 4096 MiB"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, c.err, c.want)
		}
	}
	f.failAlloc = true
	if err := allocErr(b, 64); err == nil || !strings.Contains(err.Error(), "newBufferWithLength:options: returned nil (1 MiB asked, 1 MiB allocated on Fake Apple M0, 16384 MiB recommended working set)") {
		t.Errorf("Metal out of memory: %v", err)
	}
	f.failAlloc = false
	if f.count("newBufferWithLength:options:") != 3 || f.count("newBufferWithBytes:length:options:") != 1 {
		t.Errorf("sent %v", f.sent)
	}
	b.Free(nil)
	b.Free(foreign) // another backend's: nothing
}

type fakeBuf struct{}

func (fakeBuf) Size() int { return 1 }

func allocErr(b *Backend, n int) error {
	_, err := b.Alloc(n)
	return err
}

// TestWrapRegion: tensors of a read-only mapping are views into one
// no-copy wrapping of the whole mapping, made once; other memory is
// copied; a mapping larger than maxBufferLength is wrapped tensor by
// tensor, whole pages each.
func TestWrapRegion(t *testing.T) {
	f := newFakeRT()
	f.page = 4096
	mem := make([]byte, 16*4096+4096)
	base := (uintptr(unsafe.Pointer(&mem[0])) + 4095) &^ 4095
	mapping := unsafe.Slice((*byte)(ptrOf(base)), 16*4096)
	for i := range mapping {
		mapping[i] = byte(i * 7)
	}
	writable := false
	f.region = func(addr uintptr) (uintptr, uintptr, bool, bool) {
		if addr >= base && addr < base+16*4096 {
			return base, 16 * 4096, writable, true
		}
		return 0, 0, false, false
	}
	b := fakeBackend(t, f)
	t1, err := b.Wrap(mapping[32:4128]) // crosses a page, 32-byte aligned as GGUF aligns tensors
	if err != nil {
		t.Fatal(err)
	}
	t2, err := b.Wrap(mapping[8192+96 : 8192+96+200])
	if err != nil {
		t.Fatal(err)
	}
	x1, x2 := t1.(*buffer), t2.(*buffer)
	if f.count("newBufferWithBytesNoCopy:length:options:deallocator:") != 1 || x1.region == nil || x1.region != x2.region || x1.off != 32 || x2.off != 8192+96 {
		t.Fatalf("views %+v %+v, sent %v", x1, x2, f.sent)
	}
	if !bytes.Equal(x2.Bytes(), mapping[8192+96:8192+96+200]) || &x2.Bytes()[0] != &mapping[8192+96] {
		t.Errorf("a view's bytes are not the mapping's")
	}
	if err := b.Upload(x1, 0, []byte{1}); err == nil {
		t.Errorf("Upload into a mapped tensor succeeded")
	}
	b.Free(x1)
	if f.live("MTLBuffer") != 1 {
		t.Errorf("the region was released while a view lives")
	}
	b.Free(x2)
	if f.live("MTLBuffer") != 0 || len(b.regions) != 0 {
		t.Errorf("the region outlived its views: %d MTLBuffers, %d regions", f.live("MTLBuffer"), len(b.regions))
	}

	// Writable memory (the Go heap, say) is copied.
	writable = true
	c, err := b.Wrap(mapping[100:200])
	if err != nil {
		t.Fatal(err)
	}
	if xc := c.(*buffer); xc.region != nil || &xc.Bytes()[0] == &mapping[100] || !bytes.Equal(xc.Bytes(), mapping[100:200]) {
		t.Errorf("writable memory was not copied: %+v", xc)
	}
	b.Free(c)

	// A mapping over maxBufferLength: the tensor's own pages.
	writable = false
	b.dev.info.maxBuffer = 8 * 4096
	t3, err := b.Wrap(mapping[4096+64 : 3*4096-16])
	if err != nil {
		t.Fatal(err)
	}
	if r := t3.(*buffer).region; r == nil || r.base != base+4096 || r.size != 2*4096 {
		t.Errorf("page-span region %+v, want 2 pages at %#x", r, base+4096)
	}
	if _, err := b.Wrap(mapping[0 : 9*4096]); err == nil || !strings.Contains(err.Error(), "larger than Fake Apple M0's maxBufferLength") {
		t.Errorf("a tensor over maxBufferLength: %v", err)
	}
	b.Free(t3)
	// Memory Metal will not wrap (newBufferWithBytesNoCopy returns nil):
	// copied, and not asked again.
	b.dev.info.maxBuffer = 1 << 32
	f.failNoCopy = true
	for i := range 2 {
		x, err := b.Wrap(mapping[i*100 : i*100+64])
		if err != nil {
			t.Fatal(err)
		}
		if x.(*buffer).region != nil || !bytes.Equal(x.(*buffer).Bytes(), mapping[i*100:i*100+64]) {
			t.Errorf("a tensor Metal would not wrap: %+v", x)
		}
		b.Free(x)
	}
	if n := f.count("newBufferWithBytesNoCopy:length:options:deallocator:"); n != 3 {
		t.Errorf("%d no-copy attempts, want 3 (two regions, one refused once)", n)
	}
	if p := b.Provenance(); p.NoCopyRegions != 0 || p.CopiedWraps != 3 {
		t.Errorf("provenance: %d no-copy regions, %d copies; want 0 and 3", p.NoCopyRegions, p.CopiedWraps)
	}
	z, err := b.Wrap(nil)
	if err != nil || z.Size() != 0 {
		t.Errorf("Wrap(nil): %v %v", z, err)
	}
}
