package cuda

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

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

// decodeBatch records a decode-like batch of six launches whose only
// per-step input is the position in device memory.
func decodeBatch(b *Backend, axpy, addpos backend.Kernel, y, x, pos backend.Buffer, n int) error {
	e := b.Begin()
	for range 3 {
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(x), backend.Int(n), backend.Float(0.5))
		e.Dispatch(addpos, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(pos), backend.Int(n))
	}
	return e.Commit()
}

// runDecode runs steps decode batches on a fresh fake backend with graphs
// on or off and returns y after each step and the stats.
func runDecode(t *testing.T, graphs bool, steps int) ([][]float32, GraphStats, *fakeDriver) {
	b, d, _ := fakeBackend(t, testConfig(func(c *config) { c.graphs = graphs }))
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	const n = 8
	y := mustBuf(t, b, make([]float32, n))
	x := mustBuf(t, b, []float32{1, -2, 3, -4, 5, -6, 7, -8})
	pos, _ := b.Alloc(4)
	var outs [][]float32
	for p := range steps {
		if err := b.Upload(pos, 0, binary.LittleEndian.AppendUint32(nil, uint32(p))); err != nil {
			t.Fatal(err)
		}
		if err := decodeBatch(b, axpy, addpos, y, x, pos, n); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, download(t, b, y))
	}
	return outs, b.GraphStats(), d
}

func TestGraphReplay(t *testing.T) {
	const steps = 5
	plain, ps, _ := runDecode(t, false, steps)
	graphed, gs, d := runDecode(t, true, steps)
	for i := range plain {
		for j := range plain[i] {
			if math.Float32bits(plain[i][j]) != math.Float32bits(graphed[i][j]) {
				t.Fatalf("step %d: graphs %v, plain %v", i, graphed[i], plain[i])
			}
		}
	}
	if want := (GraphStats{Plain: steps}); ps != want {
		t.Errorf("graphs off: stats %+v, want %+v", ps, want)
	}
	if want := (GraphStats{Plain: 1, Captured: 1, Replayed: steps - 2}); gs != want {
		t.Errorf("graphs on: stats %+v, want %+v", gs, want)
	}
	// Step 1 launches 6 kernels, step 2 records 6 into the graph; the
	// others are one graph launch each.
	if d.calls["launch"] != 12 || d.calls["graphLaunch"] != steps-1 {
		t.Errorf("%d kernel launches and %d graph launches, want 12 and %d", d.calls["launch"], d.calls["graphLaunch"], steps-1)
	}
}

func TestGraphKeys(t *testing.T) {
	b, d, _ := fakeBackend(t, testConfig(nil))
	axpy := mustLoad(t, b, specAxpy())
	y, _ := b.Alloc(64)
	x, _ := b.Alloc(64)
	batch := func(launches int, a float32, off int) {
		t.Helper()
		e := b.Begin()
		for range launches {
			e.Dispatch(axpy, backend.Grid{X: 1}, backend.BufAt(y, off), backend.Buf(x), backend.Int(4), backend.Float(a))
		}
		if err := e.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		batch(3, 1, 0) // fewer than graphMin launches: always plain
	}
	if s := b.GraphStats(); s != (GraphStats{Plain: 3}) {
		t.Errorf("small batches: %+v, want 3 plain", s)
	}
	batch(4, 1, 0)
	batch(4, 2, 0) // a different scalar is a different batch
	batch(4, 1, 4) // so is a different offset
	if s := b.GraphStats(); s.Captured != 0 {
		t.Errorf("distinct batches were captured: %+v", s)
	}
	batch(4, 2, 0)
	batch(4, 2, 0)
	if s := b.GraphStats(); s.Captured != 1 || s.Replayed != 1 {
		t.Errorf("after the second and third occurrence: %+v, want 1 captured, 1 replayed", s)
	}

	t.Run("eviction", func(t *testing.T) {
		b, d, _ := fakeBackend(t, testConfig(func(c *config) { c.graphMax = 2 }))
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(64)
		rec := func(a float32) {
			e := b.Begin()
			for range 4 {
				e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(a))
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		rec(1)
		rec(1) // captured
		rec(2)
		rec(3) // evicts batch 1 and retires its graph
		if len(d.graphs) != 1 || len(b.graphs.retired) != 1 {
			t.Fatalf("%d graphs, %d retired; want 1 and 1", len(d.graphs), len(b.graphs.retired))
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		if len(d.graphs) != 0 || len(b.graphs.retired) != 0 {
			t.Errorf("after Sync: %d graphs, %d retired; want both 0", len(d.graphs), len(b.graphs.retired))
		}
		rec(1) // seen again from scratch: plain
		if s := b.GraphStats(); s.Plain != 4 || s.Captured != 1 {
			t.Errorf("stats %+v, want 4 plain and 1 captured", s)
		}
	})
	t.Run("capture failure", func(t *testing.T) {
		b, d, _ := fakeBackend(t, testConfig(nil))
		d.failCap = true
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(64)
		for range 4 {
			e := b.Begin()
			for range 4 {
				e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(1))
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if s := b.GraphStats(); s != (GraphStats{Plain: 3, Failed: 1}) {
			t.Errorf("stats %+v, want 3 plain and 1 failed (tried once)", s)
		}
		if d.calls["launch"] != 16 {
			t.Errorf("%d launches, want 16: every batch still ran", d.calls["launch"])
		}
	})
	t.Run("driver without graphs", func(t *testing.T) {
		_, d2, _ := fakeBackend(t, nil)
		_ = d2
		b, d, _ := fakeBackend(t, testConfig(nil))
		d.noGraphs = errTest("libcuda lacks cuGraphInstantiateWithFlags")
		if p := b.Provenance(); p.Graphs != "off (libcuda lacks cuGraphInstantiateWithFlags)" {
			t.Errorf("Graphs = %q", p.Graphs)
		}
	})
	_ = d
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestAsyncErrors(t *testing.T) {
	t.Run("fault", func(t *testing.T) {
		b, _, _ := fakeBackend(t, testConfig(nil))
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(8)
		e := b.Begin()
		// n = 100 reads past the 8-byte buffer: an illegal address.
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(100), backend.Float(1))
		if err := e.Commit(); err != nil {
			t.Fatalf("Commit reported an asynchronous fault: %v", err)
		}
		err := b.Sync()
		want := "cuda: Sync: cuda: kernel test_axpy: kernel: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered); 1 launch(es) in 1 batch(es) since the last wait (kernels: test_axpy) (set METALLIC_CUDA_SYNC=1 to name the failing launch)"
		if err == nil || err.Error() != want {
			t.Fatalf("Sync:\n got %v\nwant %s", err, want)
		}
	})
	t.Run("sync each launch names it", func(t *testing.T) {
		b, _, _ := fakeBackend(t, testConfig(func(c *config) { c.sync = true }))
		axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
		y, _ := b.Alloc(8)
		e := b.Begin()
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(2), backend.Float(1))
		e.Dispatch(addpos, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(100))
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(2), backend.Float(1))
		err := e.Commit()
		want := "cuda: launch 2 of 3 (grid 1×1×1, block 128×1×1, 0 B shared): cuda: kernel test_addpos: kernel: CUDA_ERROR_ILLEGAL_ADDRESS"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Commit:\n got %v\nwant %s…", err, want)
		}
		if p := b.Provenance(); !p.SyncEachLaunch || p.Graphs != "off (METALLIC_CUDA_SYNC=1)" {
			t.Errorf("provenance %+v", p)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		b, d, _ := fakeBackend(t, testConfig(func(c *config) { c.timeout = 30 * time.Millisecond }))
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(8)
		e := b.Begin()
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(2), backend.Float(1))
		e.Commit()
		d.busy = -1
		start := time.Now()
		err := b.Sync()
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("Sync took %v with a 30ms timeout", el)
		}
		want := "cuda: Sync: the GPU is still busy after 30ms (METALLIC_CUDA_TIMEOUT bounds every wait): 1 launch(es) in 1 batch(es) since the last wait (kernels: test_axpy); a kernel may be hung"
		if err == nil || err.Error() != want {
			t.Fatalf("Sync:\n got %v\nwant %s", err, want)
		}
		if err := b.Download(make([]byte, 4), y, 0); err == nil || !strings.Contains(err.Error(), "still busy") {
			t.Errorf("Download behind a hung kernel: %v", err)
		}
		d.busy = 0 // the kernel ends
		if err := b.Sync(); err != nil {
			t.Errorf("Sync after the kernel ended: %v", err)
		}
	})
}

func TestProfile(t *testing.T) {
	b, d, _ := fakeBackend(t, testConfig(nil))
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	y, _ := b.Alloc(32)
	x, _ := b.Alloc(32)
	pos, _ := b.Alloc(4)
	if err := b.SetProfiling(true); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for range 2 {
			if err := decodeBatch(b, axpy, addpos, y, x, pos, 8); err != nil {
				t.Fatal(err)
			}
		}
		prof, err := b.Profile()
		if err != nil {
			t.Fatal(err)
		}
		if len(prof) != 12 {
			t.Fatalf("round %d: %d timings, want 12", round, len(prof))
		}
		for i, p := range prof {
			want := "test_axpy"
			if i%2 == 1 {
				want = "test_addpos"
			}
			if p.Kernel != want || p.Ms != 1.5 || p.Block != [3]int{128, 1, 1} || p.Grid != [3]int{1, 1, 1} {
				t.Errorf("round %d timing %d = %+v, want %s, 1.5 ms", round, i, p, want)
			}
		}
	}
	// 2 batches × 7 events, created once and reused in the second round.
	if d.calls["eventCreate"] != 14 {
		t.Errorf("%d events created, want 14", d.calls["eventCreate"])
	}
	if s := b.GraphStats(); s.Captured+s.Replayed != 0 {
		t.Errorf("graphs used while profiling: %+v", s)
	}
	if err := b.SetProfiling(false); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Profile(); err != nil || len(p) != 0 {
		t.Errorf("Profile with profiling off = %v, %v", p, err)
	}
	b.Close()
	if len(d.events) != 0 {
		t.Errorf("%d events left after Close", len(d.events))
	}
}

func TestProvenance(t *testing.T) {
	b, _, _ := fakeBackend(t, nil)
	p := b.Provenance()
	want := Provenance{Device: "Fake GPU", ComputeCapability: "9.0", SMs: 4, MemoryMiB: 1024, Driver: "13.0", NVRTC: "13.0",
		NVRTCPath: "/fake/libnvrtc.so.13", Options: compileOptions(9, 0, true, []string{"/fake/include"}), Code: "cubin sm_90",
		Numerics: "plain", Graphs: "on", Timeout: "2m0s"}
	if p.String() != want.String() {
		t.Errorf("got  %s\nwant %s", p, want)
	}
	s := p.String()
	for _, part := range []string{"cuda: Fake GPU (sm_90, 4 SMs, 1024 MiB), driver 13.0, NVRTC 13.0 (/fake/libnvrtc.so.13)", "--fmad=true", "numerics plain", "graphs on"} {
		if !strings.Contains(s, part) {
			t.Errorf("String() lacks %q: %s", part, s)
		}
	}
	b2, _, _ := fakeBackend(t, testConfig(func(c *config) { c.graphs = false }))
	if g := b2.Provenance().Graphs; g != "off (METALLIC_CUDA_GRAPHS=0)" {
		t.Errorf("Graphs = %q", g)
	}
	if n := b.Numerics(); len(n) != 1 || n[0] != backend.Plain {
		t.Errorf("Numerics = %v", n)
	}
	if b.Name() != "cuda" {
		t.Errorf("Name = %q", b.Name())
	}
}
