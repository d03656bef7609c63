package cuda

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// f32Bytes encodes v little-endian.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func mustLoad(t *testing.T, b *Backend, spec backend.KernelSpec) backend.Kernel {
	t.Helper()
	k, err := b.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustBuf(t *testing.T, b *Backend, v []float32) backend.Buffer {
	t.Helper()
	x, err := b.Alloc(4 * len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(x, 0, f32Bytes(v)); err != nil {
		t.Fatal(err)
	}
	return x
}

func download(t *testing.T, b *Backend, x backend.Buffer) []float32 {
	t.Helper()
	out := make([]byte, x.Size())
	if err := b.Download(out, x, 0); err != nil {
		t.Fatal(err)
	}
	return bytesF32(out)
}

func TestDispatchComposed(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	axpy := mustLoad(t, b, specAxpy())
	if axpy.Name() != "test_axpy" {
		t.Errorf("Name = %q", axpy.Name())
	}
	y := mustBuf(t, b, []float32{1, 2, 3, 4, 5})
	x := mustBuf(t, b, []float32{10, 20, 30, 40, 50})
	e := b.Begin()
	// Offsets: y from element 1, x from element 2, three elements.
	e.Dispatch(axpy, backend.Grid{X: 1}, backend.BufAt(y, 4), backend.BufAt(x, 8), backend.Int(3), backend.Float(0.5))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	got := download(t, b, y)
	want := []float32{1, 2 + 15, 3 + 20, 4 + 25, 5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("y = %v, want %v", got, want)
		}
	}
	if d.calls["launch"] != 1 {
		t.Errorf("%d launches, want 1", d.calls["launch"])
	}
}

func TestDispatchErrors(t *testing.T) {
	b, _, _ := fakeBackend(t, nil)
	other, _, _ := fakeBackend(t, nil)
	axpy := mustLoad(t, b, specAxpy())
	otherK := mustLoad(t, other, specAxpy())
	y, _ := b.Alloc(16)
	freed, _ := b.Alloc(16)
	b.Free(freed)
	ok := func(k backend.Kernel) func(backend.Encoder) {
		return func(e backend.Encoder) {
			e.Dispatch(k, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(1))
		}
	}
	for _, tc := range []struct {
		name string
		rec  func(e backend.Encoder)
		want string
	}{
		{"nil kernel", func(e backend.Encoder) { e.Dispatch(nil, backend.Grid{X: 1}) }, "cuda: kernel <nil> was not loaded by the cuda backend"},
		{"other backend's kernel", ok(otherK), "cuda: kernel test_axpy was loaded by another cuda backend"},
		{"negative grid", func(e backend.Encoder) { e.Dispatch(axpy, backend.Grid{X: -1}) }, "cuda: test_axpy: negative grid"},
		{"freed buffer", func(e backend.Encoder) {
			e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(freed), backend.Buf(y), backend.Int(4), backend.Float(1))
		}, "cuda: test_axpy arg 0: buffer was freed"},
		{"offset past the end", func(e backend.Encoder) {
			e.Dispatch(axpy, backend.Grid{X: 1}, backend.BufAt(y, 17), backend.Buf(y), backend.Int(4), backend.Float(1))
		}, "cuda: test_axpy arg 0: offset 17 outside a 16-byte buffer"},
		{"too few arguments", func(e backend.Encoder) { e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y)) },
			"cuda: test_axpy: takes 4 parameters, got 1 arguments (b)"},
		{"int for a buffer", func(e backend.Encoder) {
			e.Dispatch(axpy, backend.Grid{X: 1}, backend.Int(0), backend.Buf(y), backend.Int(4), backend.Float(1))
		}, "cuda: test_axpy: parameter 0 is 8 bytes, got a 4-byte int argument"},
		{"grid too large", func(e backend.Encoder) {
			e.Dispatch(axpy, backend.Grid{X: 1, Y: 70000}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(1))
		}, "grid [1 70000 1] outside the device's limits"},
		{"dispatch after commit", func(e backend.Encoder) { e.Commit(); e.Dispatch(axpy, backend.Grid{X: 1}) }, "cuda: Dispatch after Commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := b.Begin()
			tc.rec(e)
			err := e.Commit()
			if tc.name == "dispatch after commit" {
				err = e.Commit()
				if err == nil || err.Error() != "cuda: Commit twice" {
					t.Fatalf("second Commit: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit: err = %v, want %q", err, tc.want)
			}
			if serr := b.Sync(); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Sync = %v, want Commit's error", serr)
			}
			if serr := b.Sync(); serr != nil {
				t.Errorf("second Sync = %v, want nil (the error is reported once)", serr)
			}
		})
	}

	t.Run("buffer freed between Dispatch and Commit", func(t *testing.T) {
		z, _ := b.Alloc(16)
		e := b.Begin()
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(z), backend.Buf(y), backend.Int(4), backend.Float(1))
		b.Free(z)
		if err := e.Commit(); err == nil || !strings.Contains(err.Error(), "test_axpy uses a buffer freed after its Dispatch") {
			t.Fatalf("Commit: %v", err)
		}
		b.Sync()
	})
	t.Run("built-in signature", func(t *testing.T) {
		k := mustLoad(t, b, specAxpy()).(*kernel)
		k2 := *k
		k2.sig, k2.label = "bbbi", "add[F32 f32→f32 kv f32]"
		e := b.Begin()
		e.Dispatch(&k2, backend.Grid{X: 1}, backend.Buf(y), backend.Int(1))
		want := `cuda: add[F32 f32→f32 kv f32] takes arguments "bbbi" (b buffer, i int, f float), got "bi"`
		if err := e.Commit(); err == nil || err.Error() != want {
			t.Fatalf("Commit: %v, want %q", err, want)
		}
		b.Sync()
	})
}

func TestLoadErrors(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	for _, tc := range []struct {
		name string
		spec backend.KernelSpec
		want string
	}{
		{"ggml-cpu numerics", backend.KernelSpec{Name: backend.OpRMSNorm, Numerics: backend.GGMLCPU}, "cuda: numerics ggml-cpu is not implemented (have plain)"},
		{"flash attention", backend.KernelSpec{Name: backend.OpAttention, Flash: backend.FlashAttn{On: true, Batch: 1, Threads: 1}},
			"cuda: attention: flash attention is ggml's CPU kernel, defined under numerics ggml-cpu only (cuda implements plain)"},
		{"unknown op", backend.KernelSpec{Name: "conv2d"}, `cuda: unknown built-in op "conv2d" (have add, add_bias, attention`},
		{"msl only", backend.KernelSpec{Name: "k", MSL: "kernel void k() {}", Entry: "k", Threads: 32}, `cuda: kernel "k" has no CUDA source`},
		{"cpu only", backend.KernelSpec{Name: "k", CPU: func(backend.CPUCall) {}}, `cuda: kernel "k" has no CUDA source`},
		{"no entry", backend.KernelSpec{Name: "k", CUDA: srcAxpy, Threads: 32}, "cuda: kernel k: no entry function"},
		{"no threads", backend.KernelSpec{Name: "k", CUDA: srcAxpy, Entry: "axpy"}, "cuda: kernel k: 0 threads per block (want 1…1024)"},
		{"too many threads", backend.KernelSpec{Name: "k", CUDA: srcAxpy, Entry: "axpy", Threads: 2048}, "cuda: kernel k: 2048 threads per block, but Fake GPU allows at most 1024"},
		{"negative shared", backend.KernelSpec{Name: "k", CUDA: srcAxpy, Entry: "axpy", Threads: 32, SharedBytes: -1}, "negative shared memory"},
		{"too much shared", specRowSum(128, 300<<10), "cuda: kernel test_rowsum: 307200 bytes of dynamic shared memory (+0 static) exceed the 232448 bytes a block may use on Fake GPU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Load(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("register-limited threads", func(t *testing.T) {
		d.kernels["axpy"].maxThreads = 256
		defer func() { d.kernels["axpy"].maxThreads = 0 }()
		_, err := b.Load(backend.KernelSpec{Name: "k2", CUDA: srcAxpy + "\n", Entry: "axpy", Threads: 512})
		if want := "cuda: kernel k2: 512 threads per block, but the compiled kernel can run at most 256 (register use)"; err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
	})
	t.Run("built-in ops come from builtin()", func(t *testing.T) {
		_, err := b.Load(backend.KernelSpec{Name: backend.OpAdd})
		if _, berr := builtin(backend.KernelSpec{Name: backend.OpAdd}); berr != nil && (err == nil || !strings.HasPrefix(err.Error(), "cuda: ")) {
			t.Fatalf("err = %v, want builtin's error (%v)", err, berr)
		}
	})
}

func TestDynamicSharedOptIn(t *testing.T) {
	b, d, _ := fakeBackend(t, nil)
	const rows, n, threads = 3, 300, 64
	k := mustLoad(t, b, specRowSum(threads, 64<<10)) // past the default 48 KiB
	if got := d.attrs["rowsum/8"]; got != 64<<10 {
		t.Fatalf("CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = %d, want %d", got, 64<<10)
	}
	xs := make([]float32, rows*n)
	for i := range xs {
		xs[i] = float32(i%17) * 0.25
	}
	x := mustBuf(t, b, xs)
	out, _ := b.Alloc(4 * rows)
	e := b.Begin()
	e.Dispatch(k, backend.Grid{X: rows}, backend.Buf(out), backend.Buf(x), backend.Int(n))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	got, want := download(t, b, out), rowSumRef(xs, rows, n, threads)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rowsum = %v, want %v", got, want)
		}
	}
}
