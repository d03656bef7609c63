//go:build linux && amd64

package cuda

import (
	"encoding/binary"
	"math"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/internal/testenv"
)

// The purego binding (cu_linux_amd64.go, cudriver_linux_amd64.go,
// nvrtc_linux_amd64.go) run against fake libcuda.so.1 and libnvrtc.so
// written in C (testdata/fakelib): every entry point is called through
// purego with the real argument lists, kernel parameters are read back
// through the kernelParams array the way the driver reads them, and a call
// made without the context current on its thread fails.

// buildFakeLibs compiles the fake libraries into a temporary folder.
func buildFakeLibs(t *testing.T) (cudaLib, nvrtcLib string) {
	t.Helper()
	cc := testenv.CC(t)
	dir := t.TempDir()
	cudaLib, nvrtcLib = filepath.Join(dir, "libcuda.so.1"), filepath.Join(dir, "libnvrtc.so")
	for src, out := range map[string]string{"libcuda.c": cudaLib, "libnvrtc.c": nvrtcLib} {
		if b, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", out, filepath.Join("testdata", "fakelib", src)).CombinedOutput(); err != nil {
			t.Fatal(&buildError{src, err, string(b)})
		}
	}
	return cudaLib, nvrtcLib
}

type buildError struct {
	src string
	err error
	out string
}

func (e *buildError) Error() string { return "building " + e.src + ": " + e.err.Error() + "\n" + e.out }

func TestFakeLibBinding(t *testing.T) {
	cudaLib, nvrtcLib := buildFakeLibs(t)
	dev, err := openDevice(cudaLib, searchEnv{getenv: envOf(map[string]string{EnvNVRTC: nvrtcLib})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBackend(dev, *testConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	p := b.Provenance()
	if got := p.String(); !strings.HasPrefix(got, "cuda: Fake libcuda GPU (sm_90, 132 SMs, 81920 MiB), driver 13.0, NVRTC 13.0 ("+nvrtcLib+"), cubin sm_90") {
		t.Errorf("provenance: %s", got)
	}
	if info := dev.info; info.maxGrid != [3]int{math.MaxInt32, 65535, 65535} || info.maxBlock != [3]int{1024, 1024, 64} || info.maxSharedOptin != 232448 {
		t.Errorf("device info %+v", info)
	}

	// Buffers through cuMemAlloc_v2, cuMemsetD8Async and the async copies.
	x, err := b.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(x, 8, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 12)
	if err := b.Download(got, x, 0); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0}; string(got) != string(want) {
		t.Errorf("round trip % x, want % x", got, want)
	}

	// A composed kernel: the options reached NVRTC intact, the driver's
	// parameter layout matches the packing, the values arrive.
	axpy := mustLoad(t, b, specAxpy())
	if opts := fakeNVRTCOptions(t, nvrtcLib); opts != strings.Join(dev.options(), " ") {
		t.Errorf("NVRTC saw options %q, want %q", opts, strings.Join(dev.options(), " "))
	}
	if k := axpy.(*kernel); len(k.params) != 4 || k.params[3] != (paramSlot{20, 4}) {
		t.Errorf("cuFuncGetParamInfo: %v", k.params)
	}
	const n = 300
	ys, xs := make([]float32, n), make([]float32, n)
	for i := range ys {
		ys[i], xs[i] = float32(i), float32(2*i)
	}
	y, xb := mustBuf(t, b, ys), mustBuf(t, b, xs)
	e := b.Begin()
	e.Dispatch(axpy, backend.Grid{X: 3}, backend.BufAt(y, 4), backend.Buf(xb), backend.Int(n-1), backend.Float(0.5))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	out := download(t, b, y)
	for i := 1; i < n; i++ {
		if want := 0.5*xs[i-1] + ys[i]; out[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, out[i], want)
		}
	}

	// Dynamic shared memory past 48 KiB through cuFuncSetAttribute.
	rs := mustLoad(t, b, specRowSum(64, 64<<10))
	in := mustBuf(t, b, xs)
	sum := mustBuf(t, b, make([]float32, 3))
	e = b.Begin()
	e.Dispatch(rs, backend.Grid{X: 3}, backend.Buf(sum), backend.Buf(in), backend.Int(100))
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := download(t, b, sum), rowSumRef(xs, 3, 100, 64); got[2] != want[2] {
		t.Errorf("rowsum = %v, want %v", got, want)
	}

	// Graphs: stream capture, instantiation, replay.
	addpos := mustLoad(t, b, specAddPos())
	pos, _ := b.Alloc(4)
	launches0, graphs0 := fakeCounter(t, cudaLib, "fake_launches"), fakeCounter(t, cudaLib, "fake_graph_launches")
	for step := range 4 {
		b.Upload(pos, 0, binary.LittleEndian.AppendUint32(nil, uint32(step)))
		if err := decodeBatch(b, axpy, addpos, y, xb, pos, n); err != nil {
			t.Fatal(err)
		}
	}
	if s := b.GraphStats(); s != (GraphStats{Plain: 3, Captured: 1, Replayed: 2}) { // two single-launch batches above
		t.Errorf("graph stats %+v", s)
	}
	if l, g := fakeCounter(t, cudaLib, "fake_launches")-launches0, fakeCounter(t, cudaLib, "fake_graph_launches")-graphs0; l != 24 || g != 3 {
		t.Errorf("%d kernel runs and %d graph launches, want 24 and 3", l, g)
	}

	// Profiling through events.
	b.SetProfiling(true)
	decodeBatch(b, axpy, addpos, y, xb, pos, n)
	prof, err := b.Profile()
	if err != nil || len(prof) != 6 || prof[0].Ms != 0.25 || prof[1].Kernel != "test_addpos" {
		t.Errorf("Profile = %+v, %v", prof, err)
	}
	b.SetProfiling(false)

	// NVRTC's log and the failing line in a compile error.
	_, err = b.Load(backend.KernelSpec{Name: "broken", CUDA: srcBroken, Entry: "broken", Threads: 32})
	if err == nil || !strings.Contains(err.Error(), "line 3: y[i] = undeclared_name + 1.0f;") || !strings.Contains(err.Error(), "broken.cu(3): error: identifier") {
		t.Errorf("compile error: %v", err)
	}
	// In-memory headers reach NVRTC: this fake has no cuda_fp16.h but the
	// minimal one.
	mustLoad(t, b, backend.KernelSpec{Name: "fp16_axpy", CUDA: "#include <cuda_fp16.h>\n" + srcAxpy, Entry: "axpy", Threads: 32})
	if code := b.Provenance().Code; !strings.Contains(code, "fp16_axpy: compiled with metallic's minimal cuda_fp16.h") {
		t.Errorf("Code = %q", code)
	}
	// A driver error carries cuGetErrorName/String.
	_, err = b.Load(backend.KernelSpec{Name: "no_such", CUDA: strings.Replace(srcAxpy, "axpy", "nosuch", 1), Entry: "nosuch", Threads: 32})
	if want := `cuda: kernel no_such: entry "nosuch": cuda: cuModuleGetFunction: CUDA_ERROR_NOT_FOUND (named symbol not found)`; err == nil || err.Error() != want {
		t.Errorf("missing function: %v, want %s", err, want)
	}

	// Last (the fault is sticky, as on a GPU): an asynchronous fault is
	// reported by Sync with the driver's name for it and the kernel.
	bad := mustLoad(t, b, specRowSum(64, 0)) // partials past its shared memory
	e = b.Begin()
	e.Dispatch(bad, backend.Grid{X: 1}, backend.Buf(sum), backend.Buf(in), backend.Int(10))
	if err := e.Commit(); err != nil {
		t.Fatalf("Commit reported an asynchronous fault: %v", err)
	}
	want := "cuda: Sync: cuda: kernel test_rowsum: cuStreamQuery: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered); 1 launch(es) in 1 batch(es) since the last wait (kernels: test_rowsum)"
	if err := b.Sync(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Sync after a fault:\n got %v\nwant %s…", err, want)
	}
	if err := b.Download(make([]byte, 4), sum, 0); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_ILLEGAL_ADDRESS") {
		t.Errorf("Download after a fault: %v", err)
	}
}

// TestFakeLibNeedsContext: a driver call outside run, on a thread where the
// context was never made current, fails with the driver's error name.
func TestFakeLibNeedsContext(t *testing.T) {
	cudaLib, _ := buildFakeLibs(t)
	d, err := openCU(cudaLib)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := d.lib.call("cuCtxSetCurrent", d.lib.ctxSetCurrent, 0); err != nil {
			done <- err
			return
		}
		_, _, err := d.memInfo()
		done <- err
	}()
	if err := <-done; err == nil || err.Error() != "cuda: cuMemGetInfo_v2: CUDA_ERROR_INVALID_CONTEXT (invalid device context)" {
		t.Errorf("memInfo outside run: %v", err)
	}
	if err := d.run(func() error { _, _, err := d.memInfo(); return err }); err != nil {
		t.Errorf("memInfo inside run: %v", err)
	}
}

// fakeNVRTCOptions reads the options the fake NVRTC saw last.
func fakeNVRTCOptions(t *testing.T, lib string) string {
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	var fn func() string
	purego.RegisterLibFunc(&fn, h, "fake_last_options")
	return fn()
}

func fakeCounter(t *testing.T, lib, name string) int64 {
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	var fn func() int64
	purego.RegisterLibFunc(&fn, h, name)
	return fn()
}

// TestFakeLibPDL: with METALLIC_CUDA_PDL=1 every launch goes through
// cuLaunchKernelEx, whose CUlaunchConfig and attribute the fake reads with
// cuda.h's layouts (grid, block, shared memory, stream, the programmatic
// stream serialization attribute), in plain batches and graph captures
// alike, and the results are those of cuLaunchKernel.
func TestFakeLibPDL(t *testing.T) {
	cudaLib, nvrtcLib := buildFakeLibs(t)
	dev, err := openDevice(cudaLib, searchEnv{getenv: envOf(map[string]string{EnvNVRTC: nvrtcLib})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBackend(dev, *testConfig(func(c *config) { c.pdl = true }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p := b.Provenance(); p.PDL != "on" || !strings.Contains(p.String(), "programmatic dependent launch") {
		t.Fatalf("provenance %+v", p)
	}
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	const n = 300
	ys, xs := make([]float32, n), make([]float32, n)
	for i := range ys {
		ys[i], xs[i] = float32(i), float32(2*i)
	}
	y, xb := mustBuf(t, b, ys), mustBuf(t, b, xs)
	pos, _ := b.Alloc(4)
	pdl0 := fakeCounter(t, cudaLib, "fake_pdl_launches")
	for range 3 { // plain, captured, replayed
		if err := decodeBatch(b, axpy, addpos, y, xb, pos, n); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	// Two launches per batch went through cuLaunchKernelEx: the plain one
	// and the capture (a replay launches the graph).
	if got := fakeCounter(t, cudaLib, "fake_pdl_launches") - pdl0; got != 12 {
		t.Errorf("%d launches through cuLaunchKernelEx, want 12", got)
	}
	// decodeBatch's axpy is one block of 128 threads: the first 128
	// elements take 3 batches × 3 axpy, the rest stay (pos is 0).
	out := download(t, b, y)
	for i := range out {
		want := float32(i)
		for k := 0; k < 9 && i < 128; k++ {
			want = 0.5*xs[i] + want
		}
		if out[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, out[i], want)
		}
	}
}
