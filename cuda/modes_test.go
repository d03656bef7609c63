package cuda

import (
	"strings"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

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

// TestProfileHold: with the hold kernel loadable, every profiled batch is
// queued behind it (one hold launch per batch, long enough for the
// batch), the timings are unchanged, and ProfileHold reports it in use;
// without it (TestProfile's driver) ProfileHold says why.
func TestProfileHold(t *testing.T) {
	b, d, _ := fakeBackend(t, testConfig(nil))
	var holds []int
	d.kernels["metallic_profile_hold"] = &fakeKernel{entry: "metallic_profile_hold", params: []paramSlot{{0, 4}},
		run: func(_ *fakeDriver, l fakeLaunch) error { holds = append(holds, l.int(0)); return nil }}
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	y, _ := b.Alloc(32)
	x, _ := b.Alloc(32)
	pos, _ := b.Alloc(4)
	if err := b.SetProfiling(true); err != nil {
		t.Fatal(err)
	}
	if h := b.ProfileHold(); h != "" {
		t.Fatalf("ProfileHold = %q with the hold kernel available", h)
	}
	for range 2 {
		if err := decodeBatch(b, axpy, addpos, y, x, pos, 8); err != nil {
			t.Fatal(err)
		}
	}
	prof, err := b.Profile()
	if err != nil {
		t.Fatal(err)
	}
	if len(prof) != 12 || prof[0].Kernel != "test_axpy" || prof[0].Ms != 1.5 {
		t.Fatalf("timings %+v", prof)
	}
	if want := []int{holdMicros(6), holdMicros(6)}; len(holds) != 2 || holds[0] != want[0] || holds[1] != want[1] {
		t.Fatalf("hold launches %v µs, want %v", holds, want)
	}
	if holdMicros(1<<20) != 200000 {
		t.Errorf("holdMicros is not capped: %d", holdMicros(1<<20))
	}

	nb, _, _ := fakeBackend(t, testConfig(nil))
	if err := nb.SetProfiling(true); err != nil {
		t.Fatal(err)
	}
	if h := nb.ProfileHold(); !strings.Contains(h, "metallic_profile_hold") {
		t.Errorf("ProfileHold without the kernel = %q, want the reason", h)
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
	if d := any(b).(interface{ Describe() string }).Describe(); d != s {
		t.Errorf("Describe = %q, want Provenance().String()", d)
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

// TestProfileHoldCompiles compiles the hold kernel to PTX with clang's
// CUDA device mode (the inline PTX reading %globaltimer included).
func TestProfileHoldCompiles(t *testing.T) {
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	if err := clangcheck.CompileCUDADevice([]clangcheck.Source{{Name: "metallic_profile_hold", Code: holdSrc}}); err != nil {
		t.Fatal(err)
	}
}
