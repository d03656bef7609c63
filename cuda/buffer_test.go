package cuda

import (
	"bytes"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
)

func TestBuffersRoundTrip(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	x, err := b.Alloc(10)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if err := b.Download(got, x, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, 10)) {
		t.Errorf("Alloc is not zero-filled: % x", got)
	}
	if err := b.Upload(x, 3, []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := b.Download(got[:5], x, 2); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 1, 2, 3, 4}; !bytes.Equal(got[:5], want) {
		t.Errorf("Download at 2 = % x, want % x", got[:5], want)
	}
	w, err := b.Wrap([]byte{9, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Download(got[:3], w, 0); err != nil || !bytes.Equal(got[:3], []byte{9, 8, 7}) {
		t.Errorf("Wrap round trip = % x, %v", got[:3], err)
	}
	if w.Size() != 3 || x.Size() != 10 {
		t.Errorf("sizes %d, %d", w.Size(), x.Size())
	}
	used := len(d.allocs)
	b.Free(x)
	b.Free(x) // a second Free does nothing
	if len(d.allocs) != used-1 || d.calls["free"] != 1 {
		t.Errorf("after Free: %d allocations (want %d), %d cuMemFree calls (want 1)", len(d.allocs), used-1, d.calls["free"])
	}
	for _, n := range []int{0} {
		e, err := b.Alloc(n)
		if err != nil || e.Size() != 0 {
			t.Errorf("Alloc(0) = %v, %v", e, err)
		}
		if err := b.Upload(e, 0, nil); err != nil {
			t.Errorf("empty Upload: %v", err)
		}
	}
}

func TestBufferErrors(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	other, _, _ := fakeBackend(t, nil)
	x, _ := b.Alloc(16)
	w, _ := b.Wrap(make([]byte, 8))
	freed, _ := b.Alloc(4)
	b.Free(freed)
	foreign, _ := other.Alloc(4)
	cpuBuf, _ := cpu.New(backend.Options{}).Alloc(4)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"upload past the end", b.Upload(x, 10, make([]byte, 7)), "cuda: Upload: 7 bytes at offset 10 overflow a 16-byte buffer"},
		{"upload negative offset", b.Upload(x, -1, make([]byte, 1)), "1 bytes at offset -1 overflow"},
		{"download past the end", b.Download(make([]byte, 17), x, 0), "cuda: Download: 17 bytes at offset 0 overflow a 16-byte buffer"},
		{"upload into wrapped", b.Upload(w, 0, []byte{1}), "cuda: Upload into a wrapped (read-only) buffer"},
		{"freed upload", b.Upload(freed, 0, []byte{1}), "cuda: Upload: buffer was freed"},
		{"freed download", b.Download(make([]byte, 1), freed, 0), "cuda: Download: buffer was freed"},
		{"other backend", b.Upload(foreign, 0, []byte{1}), "cuda: Upload: buffer belongs to another cuda backend"},
		{"cpu buffer", b.Download(make([]byte, 1), cpuBuf, 0), "cuda: Download: buffer *cpu.buffer was not made by the cuda backend"},
		{"nil buffer", b.Upload(nil, 0, []byte{1}), "cuda: Upload: buffer <nil> was not made by the cuda backend"},
		{"negative alloc", errOf(b.Alloc(-1)), "cuda: Alloc(-1): negative size"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want && !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	b.Free(foreign) // another backend's buffer: nothing happens
	b.Free(cpuBuf)
	b.Free(nil)
	if _, err := other.own(foreign); err != nil {
		t.Errorf("b.Free freed other's buffer: %v", err)
	}

	d.freeMem = 3 << 20
	_, err := b.Alloc(5 << 20)
	if want := "cuda: Alloc(5242880): 5 MiB requested but only 3 MiB of 1024 MiB are free on Fake GPU"; err == nil || err.Error() != want {
		t.Errorf("Alloc past free memory: err = %v, want %q", err, want)
	}
	_, err = b.Wrap(make([]byte, 4<<20))
	if err == nil || !strings.Contains(err.Error(), "cuda: Wrap(4194304): 4 MiB requested but only 3 MiB") {
		t.Errorf("Wrap past free memory: err = %v", err)
	}
}

func errOf(_ backend.Buffer, err error) error { return err }

func TestClose(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	x, _ := b.Alloc(64)
	b.Wrap(make([]byte, 32))
	k, err := b.Load(specAxpy())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(d.allocs) != 0 || d.streams != 0 {
		t.Errorf("after Close: %d allocations, %d streams left", len(d.allocs), d.streams)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Alloc":    errOf(b.Alloc(4)),
		"Upload":   b.Upload(x, 0, []byte{1}),
		"Download": b.Download(make([]byte, 1), x, 0),
		"Load":     func() error { _, err := b.Load(specAxpy()); return err }(),
		"Sync":     b.Sync(),
		"Commit": func() error {
			e := b.Begin()
			e.Dispatch(k, backend.Grid{X: 1}, backend.Buf(x), backend.Buf(x), backend.Int(1), backend.Float(1))
			return e.Commit()
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "closed backend") {
			t.Errorf("%s after Close: err = %v", name, err)
		}
	}
}
