package cuda

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/internal/testenv"
)

// The tests below need an NVIDIA GPU. They skip without one and fail
// instead under METALLIC_REQUIRE_CUDA=1 (docs/BACKENDS.md: how to build
// them into a test binary and run it on the GPU machine). Each failure
// says what differed; every wait is bounded by the backend's timeout.

// gpu opens the real backend with the default configuration, changed by
// change when not nil.
func gpu(t testing.TB, change func(*config)) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		testenv.NeedCUDA(t, err.Error())
	}
	if change != nil {
		cfg := b.cfg
		change(&cfg)
		b.Close()
		if b, err = newBackend(b.dev, cfg); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestGPUProvenance(t *testing.T) {
	b := gpu(t, nil)
	p := b.Provenance()
	js, _ := json.MarshalIndent(p, "", "  ")
	t.Logf("%s\n%s", p, js)
	if p.Device == "" || p.SMs <= 0 || p.MemoryMiB == 0 || p.NVRTC == "0.0" || p.Driver == "0.0" {
		t.Errorf("incomplete provenance: %+v", p)
	}
	if p.Graphs != "on" {
		t.Errorf("graphs %s: want on (the driver has the graph API)", p.Graphs)
	}
	if len(b.dev.info.name) == 0 || b.dev.info.maxThreads < 1024 {
		t.Errorf("device limits %+v", b.dev.info)
	}
}

func TestGPUUploadDownload(t *testing.T) {
	b := gpu(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 4096 + 5, 16<<20 + 3} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		x, err := b.Alloc(n + 16)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(x, 7, data); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n+16)
		if err := b.Download(got, x, 0); err != nil {
			t.Fatal(err)
		}
		want := append(append(make([]byte, 7), data...), make([]byte, 9)...)
		if !bytes.Equal(got, want) {
			i := 0
			for got[i] == want[i] {
				i++
			}
			t.Errorf("%d bytes at offset 7: first difference at byte %d: got %#x, want %#x (zero-filled around the data)", n, i, got[i], want[i])
		}
		part := make([]byte, 5)
		if err := b.Download(part, x, 7+n/2); err != nil || !bytes.Equal(part, want[7+n/2:7+n/2+5]) {
			t.Errorf("%d bytes: partial Download = % x, %v; want % x", n, part, err, want[7+n/2:7+n/2+5])
		}
		w, err := b.Wrap(data)
		if err != nil {
			t.Fatal(err)
		}
		back := make([]byte, n)
		if err := b.Download(back, w, 0); err != nil || !bytes.Equal(back, data) {
			t.Errorf("%d bytes: Wrap round trip differs (%v)", n, err)
		}
		b.Free(x)
		b.Free(w)
		if err := b.Download(back[:1], x, 0); err == nil || !strings.Contains(err.Error(), "freed") {
			t.Errorf("Download of a freed buffer: %v", err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Alloc(1 << 50); err == nil || !strings.Contains(err.Error(), "MiB are free") {
		t.Errorf("Alloc(1 PiB): %v", err)
	}
}

// exactVector returns n floats that are small multiples of 1/4, so a·x+y
// with a = 0.5 is exact with or without a fused multiply-add.
func exactVector(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(int(rng.UintN(2001))-1000) / 4
	}
	return v
}

func TestGPUComposedKernels(t *testing.T) {
	b := gpu(t, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 10007
	ys, xs := exactVector(rng, n), exactVector(rng, n)
	y, x := mustBuf(t, b, ys), mustBuf(t, b, xs)
	axpy := mustLoad(t, b, specAxpy())
	k := axpy.(*kernel)
	if k.params == nil {
		t.Errorf("the driver did not report axpy's parameters (cuFuncGetParamInfo)")
	} else if want := []paramSlot{{0, 8}, {8, 8}, {16, 4}, {20, 4}}; !slices.Equal(k.params, want) {
		t.Errorf("driver's parameter layout %v, want %v (the packing of pack.go)", k.params, want)
	}
	const off = 3 // elements
	m := n - off
	e := b.Begin()
	e.Dispatch(axpy, backend.Grid{X: (m + 127) / 128}, backend.BufAt(y, 4*off), backend.BufAt(x, 4*off), backend.Int(m), backend.Float(0.5))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	got := download(t, b, y)
	for i := range n {
		want := ys[i]
		if i >= off {
			want = 0.5*xs[i] + ys[i]
		}
		if got[i] != want {
			t.Fatalf("axpy: y[%d] = %v, want %v", i, got[i], want)
		}
	}

	// rowsum with 64 KiB of dynamic shared memory (past the default 48 KiB).
	const rows, cols, threads = 37, 5000, 256
	vals := make([]float32, rows*cols)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	rs := mustLoad(t, b, specRowSum(threads, 64<<10))
	in, out := mustBuf(t, b, vals), mustBuf(t, b, make([]float32, rows))
	e = b.Begin()
	e.Dispatch(rs, backend.Grid{X: rows}, backend.Buf(out), backend.Buf(in), backend.Int(cols))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	sums, want := download(t, b, out), rowSumRef(vals, rows, cols, threads)
	for i := range want {
		if math.Float32bits(sums[i]) != math.Float32bits(want[i]) {
			t.Fatalf("rowsum row %d = %v, want %v bit for bit (same order)", i, sums[i], want[i])
		}
	}
}

func TestGPUGraphReplay(t *testing.T) {
	const n, rows, steps = 4096, 16, 6
	run := func(graphs bool) ([][]float32, GraphStats) {
		b := gpu(t, func(c *config) { c.graphs = graphs })
		rng := rand.New(rand.NewPCG(5, 6))
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32(rng.NormFloat64())
		}
		axpy, addpos, rs := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos()), mustLoad(t, b, specRowSum(128, 128*4))
		y, x := mustBuf(t, b, make([]float32, n)), mustBuf(t, b, xs)
		out := mustBuf(t, b, make([]float32, rows))
		pos, _ := b.Alloc(4)
		var res [][]float32
		for p := range steps {
			if err := b.Upload(pos, 0, binary.LittleEndian.AppendUint32(nil, uint32(3*p+1))); err != nil {
				t.Fatal(err)
			}
			e := b.Begin()
			for range 3 {
				e.Dispatch(axpy, backend.Grid{X: n / 128}, backend.Buf(y), backend.Buf(x), backend.Int(n), backend.Float(0.37))
				e.Dispatch(addpos, backend.Grid{X: n / 128}, backend.Buf(y), backend.Buf(pos), backend.Int(n))
			}
			e.Dispatch(rs, backend.Grid{X: rows}, backend.Buf(out), backend.Buf(y), backend.Int(n/rows))
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
			res = append(res, append(download(t, b, y), download(t, b, out)...))
		}
		return res, b.GraphStats()
	}
	plain, ps := run(false)
	graphed, gs := run(true)
	for s := range plain {
		for i := range plain[s] {
			if math.Float32bits(plain[s][i]) != math.Float32bits(graphed[s][i]) {
				t.Fatalf("step %d value %d: graph replay %v, plain launches %v", s, i, graphed[s][i], plain[s][i])
			}
		}
	}
	if ps != (GraphStats{Plain: steps}) || gs != (GraphStats{Plain: 1, Captured: 1, Replayed: steps - 2}) {
		t.Errorf("stats: graphs off %+v, on %+v; want %d plain, and 1 plain, 1 captured, %d replayed", ps, gs, steps, steps-2)
	}
}

func TestGPUErrors(t *testing.T) {
	b := gpu(t, nil)
	_, err := b.Load(backend.KernelSpec{Name: "broken", CUDA: srcBroken, Entry: "broken", Threads: 32})
	t.Logf("compile error as reported:\n%v", err)
	for _, want := range []string{"cuda: compiling kernel broken (broken.cu)", "line 3: y[i] = undeclared_name + 1.0f;", "NVRTC log:", "undeclared_name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("compile error lacks %q", want)
		}
	}
	if _, err := b.Load(specRowSum(128, 1<<20)); err == nil || !strings.Contains(err.Error(), "exceed the") {
		t.Errorf("1 MiB of shared memory: %v", err)
	}
	axpy := mustLoad(t, b, specAxpy())
	y := mustBuf(t, b, make([]float32, 4))
	e := b.Begin()
	e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y))
	if err := e.Commit(); err == nil || !strings.Contains(err.Error(), "takes 4 parameters, got 1") {
		t.Errorf("wrong argument count: %v", err)
	}
	if err := b.Sync(); err == nil {
		t.Error("Sync did not report the Commit error")
	}
	if err := b.Sync(); err != nil {
		t.Errorf("the backend is unusable after a recording error: %v", err)
	}
}

func TestGPUTimeout(t *testing.T) {
	b := gpu(t, nil)
	spin := mustLoad(t, b, backend.KernelSpec{Name: "test_spin", CUDA: srcSpin, Entry: "spin", Threads: 1})
	b.cfg.timeout = 100 * time.Millisecond
	e := b.Begin()
	e.Dispatch(spin, backend.Grid{X: 1}, backend.Int(1500))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := b.Sync()
	if el := time.Since(start); el > time.Second {
		t.Errorf("Sync with a 100ms bound took %v", el)
	}
	if err == nil || !strings.Contains(err.Error(), "still busy after 100ms") || !strings.Contains(err.Error(), "test_spin") {
		t.Fatalf("Sync behind a ~1s kernel: %v", err)
	}
	b.cfg.timeout = 30 * time.Second
	if err := b.Sync(); err != nil {
		t.Fatalf("Sync once the kernel ends: %v", err)
	}
}

func TestGPUProfile(t *testing.T) {
	b := gpu(t, nil)
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	const n = 1 << 20
	y, x := mustBuf(t, b, make([]float32, n)), mustBuf(t, b, make([]float32, n))
	pos, _ := b.Alloc(4)
	if err := b.SetProfiling(true); err != nil {
		t.Fatal(err)
	}
	e := b.Begin()
	for range 4 {
		e.Dispatch(axpy, backend.Grid{X: n / 128}, backend.Buf(y), backend.Buf(x), backend.Int(n), backend.Float(2))
		e.Dispatch(addpos, backend.Grid{X: n / 128}, backend.Buf(y), backend.Buf(pos), backend.Int(n))
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	prof, err := b.Profile()
	if err != nil {
		t.Fatal(err)
	}
	if len(prof) != 8 {
		t.Fatalf("%d timings for 8 launches", len(prof))
	}
	for i, p := range prof {
		t.Logf("%-12s grid %v block %v %.4f ms", p.Kernel, p.Grid, p.Block, p.Ms)
		if p.Ms <= 0 || p.Ms > 1000 {
			t.Errorf("timing %d: %v ms", i, p.Ms)
		}
	}
}

// builtinsMerged says whether the hand-written kernels are in this build
// (cuda/builtin.go replaces the stub at the merge).
func builtinsMerged() (bool, string) {
	_, err := builtin(backend.KernelSpec{Name: backend.OpAdd})
	if err != nil && strings.Contains(err.Error(), "not merged yet") {
		return false, err.Error()
	}
	return true, ""
}

// TestGPUConformance runs the backend conformance suite (every built-in
// op × weight dtype × activation dtype against the float64 oracle).
func TestGPUConformance(t *testing.T) {
	b := gpu(t, nil)
	if ok, why := builtinsMerged(); !ok {
		t.Skip(why)
	}
	backendtest.Run(t, b)
}
