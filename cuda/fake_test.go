package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
)

// fakeDriver is a driver that runs "kernels" written in Go on host memory
// standing in for the device, synchronously at launch (or at graph launch
// for a captured batch). It checks every address it is given and counts
// every call, so tests can see what the backend asked of the driver.
type fakeDriver struct {
	inf      deviceInfo
	freeMem  uint64
	allocs   map[devptr][]byte
	next     devptr
	kernels  map[string]*fakeKernel // by entry name
	modules  map[handle][]string    // module → entry names its source defines
	funcs    map[handle]*fakeKernel
	graphs   map[handle][]fakeLaunch
	events   map[handle]float32
	nextH    handle
	clock    float32 // advanced by every launch, recorded by events
	capture  *[]fakeLaunch
	streams  int
	calls    map[string]int
	attrs    map[string]int // "entry/attr" → value set
	noParams bool           // paramInfo cannot tell
	noGraphs error          // graphsSupported
	failCap  bool           // beginCapture fails

	streamErr error // the stream's sticky error, reported by query
	busy      int   // query reports not done this many more times (-1: forever)
}

type fakeLaunch struct {
	k    *fakeKernel
	cfg  launchConfig
	blob []byte
	offs []int
}

// fakeKernel is a kernel implemented in Go. run reads its parameters from
// the packed blob and device memory through the driver.
type fakeKernel struct {
	entry      string
	params     []paramSlot
	maxThreads int
	static     int
	run        func(d *fakeDriver, l fakeLaunch) error
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{
		inf: deviceInfo{name: "Fake GPU", ccMajor: 9, ccMinor: 0, sms: 4, totalMem: 1 << 30,
			maxThreads: 1024, maxBlock: [3]int{1024, 1024, 64}, maxGrid: [3]int{1<<31 - 1, 65535, 65535},
			maxShared: 48 << 10, maxSharedOptin: 227 << 10, driverVersion: 13000},
		freeMem: 1 << 30, allocs: map[devptr][]byte{}, next: 1 << 20,
		kernels: map[string]*fakeKernel{}, modules: map[handle][]string{}, funcs: map[handle]*fakeKernel{},
		graphs: map[handle][]fakeLaunch{}, events: map[handle]float32{}, calls: map[string]int{}, attrs: map[string]int{},
	}
}

func (d *fakeDriver) newHandle() handle { d.nextH++; return d.nextH }

func (d *fakeDriver) run(fn func() error) error { d.calls["run"]++; return fn() }
func (d *fakeDriver) info() deviceInfo          { return d.inf }
func (d *fakeDriver) graphsSupported() error    { return d.noGraphs }
func (d *fakeDriver) pdlSupported() error       { return nil }

func (d *fakeDriver) memInfo() (uint64, uint64, error) { return d.freeMem, d.inf.totalMem, nil }

func (d *fakeDriver) alloc(n int) (devptr, error) {
	d.calls["alloc"]++
	if uint64(n) > d.freeMem {
		return 0, &Error{Call: "cuMemAlloc_v2", Code: resultOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", Text: "out of memory"}
	}
	p := d.next
	d.next += devptr((n + 4095) &^ 4095)
	// Fill with garbage so a missing zero-fill shows.
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xa5
	}
	d.allocs[p] = b
	d.freeMem -= uint64(n)
	return p, nil
}

func (d *fakeDriver) free(p devptr) error {
	d.calls["free"]++
	b, ok := d.allocs[p]
	if !ok {
		return &Error{Call: "cuMemFree_v2", Code: resultInvalidVal, Name: "CUDA_ERROR_INVALID_VALUE", Text: "invalid argument"}
	}
	d.freeMem += uint64(len(b))
	delete(d.allocs, p)
	return nil
}

// mem returns the n device bytes at p, or an error when they are not all
// inside one allocation (an illegal address on a GPU).
func (d *fakeDriver) mem(p devptr, n int) ([]byte, error) {
	for base, b := range d.allocs {
		if p >= base && p+devptr(n) <= base+devptr(len(b)) {
			return b[p-base : int(p-base)+n], nil
		}
	}
	return nil, &Error{Call: "kernel", Code: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS", Text: "an illegal memory access was encountered"}
}

func (d *fakeDriver) streamCreate() (handle, error) { d.streams++; return d.newHandle(), nil }
func (d *fakeDriver) streamDestroy(handle) error    { d.streams--; return nil }

func (d *fakeDriver) query(handle) (bool, error) {
	d.calls["query"]++
	if d.streamErr != nil {
		return false, d.streamErr
	}
	if d.busy != 0 {
		if d.busy > 0 {
			d.busy--
		}
		return false, nil
	}
	return true, nil
}

func (d *fakeDriver) memsetAsync(p devptr, n int, _ handle) error {
	b, err := d.mem(p, n)
	if err != nil {
		return err
	}
	clear(b)
	return nil
}

func (d *fakeDriver) htodAsync(dst devptr, src []byte, _ handle) error {
	d.calls["htod"]++
	b, err := d.mem(dst, len(src))
	if err != nil {
		return err
	}
	copy(b, src)
	return nil
}

func (d *fakeDriver) dtohAsync(dst []byte, src devptr, _ handle) error {
	d.calls["dtoh"]++
	b, err := d.mem(src, len(dst))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

func (d *fakeDriver) loadModule(image []byte) (handle, error) {
	d.calls["loadModule"]++
	s := string(image)
	if !strings.HasPrefix(s, "FAKE ") {
		return 0, &Error{Call: "cuModuleLoadData", Code: 200, Name: "CUDA_ERROR_INVALID_IMAGE", Text: "device kernel image is invalid"}
	}
	h := d.newHandle()
	d.modules[h] = strings.Fields(strings.TrimPrefix(s, "FAKE "))
	return h, nil
}

func (d *fakeDriver) function(m handle, name string) (handle, error) {
	for _, e := range d.modules[m] {
		if e == name && d.kernels[name] != nil {
			h := d.newHandle()
			d.funcs[h] = d.kernels[name]
			return h, nil
		}
	}
	return 0, &Error{Call: "cuModuleGetFunction", Code: 500, Name: "CUDA_ERROR_NOT_FOUND", Text: "named symbol not found"}
}

func (d *fakeDriver) funcAttr(f handle, attr int) (int, error) {
	k := d.funcs[f]
	switch attr {
	case attrMaxThreadsPerBlock:
		if k.maxThreads > 0 {
			return k.maxThreads, nil
		}
		return 1024, nil
	case attrSharedSizeBytes:
		return k.static, nil
	}
	return 0, nil
}

func (d *fakeDriver) setFuncAttr(f handle, attr, v int) error {
	d.attrs[fmt.Sprintf("%s/%d", d.funcs[f].entry, attr)] = v
	return nil
}

func (d *fakeDriver) paramInfo(f handle) ([]paramSlot, bool, error) {
	if d.noParams || d.funcs[f].params == nil {
		return nil, false, nil
	}
	return d.funcs[f].params, true, nil
}

func (d *fakeDriver) launch(f handle, cfg launchConfig, _ handle, blob []byte, offs []int) error {
	d.calls["launch"]++
	k := d.funcs[f]
	if k == nil {
		return &Error{Call: "cuLaunchKernel", Code: 400, Name: "CUDA_ERROR_INVALID_HANDLE", Text: "invalid resource handle"}
	}
	if cfg.shared > uint32(max(48<<10-k.static, d.attrs[fmt.Sprintf("%s/%d", k.entry, attrMaxDynamicSharedMem)])) {
		return &Error{Call: "cuLaunchKernel", Code: 1, Name: "CUDA_ERROR_INVALID_VALUE", Text: "invalid argument"}
	}
	l := fakeLaunch{k: k, cfg: cfg, blob: append([]byte(nil), blob...), offs: append([]int(nil), offs...)}
	if d.capture != nil {
		*d.capture = append(*d.capture, l)
		return nil
	}
	d.exec(l)
	return nil
}

// exec runs a launch; a fault becomes the stream's sticky error.
func (d *fakeDriver) exec(l fakeLaunch) {
	d.clock += 1.5
	if d.streamErr != nil {
		return
	}
	if err := l.k.run(d, l); err != nil {
		d.streamErr = err
	}
}

func (d *fakeDriver) beginCapture(handle) error {
	if d.failCap {
		return &Error{Call: "cuStreamBeginCapture_v2", Code: 900, Name: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", Text: "operation not permitted when stream is capturing"}
	}
	d.capture = &[]fakeLaunch{}
	return nil
}

func (d *fakeDriver) endCapture(handle) (handle, error) {
	g := *d.capture
	d.capture = nil
	h := d.newHandle()
	d.graphs[h] = g
	return h, nil
}

func (d *fakeDriver) graphLaunch(x, _ handle) error {
	d.calls["graphLaunch"]++
	for _, l := range d.graphs[x] {
		d.exec(l)
	}
	return nil
}

func (d *fakeDriver) graphDestroy(x handle) error {
	if _, ok := d.graphs[x]; !ok {
		return errors.New("fake: destroying an unknown graph")
	}
	delete(d.graphs, x)
	return nil
}

func (d *fakeDriver) eventCreate() (handle, error) {
	d.calls["eventCreate"]++
	h := d.newHandle()
	d.events[h] = 0
	return h, nil
}

func (d *fakeDriver) eventRecord(e, _ handle) error { d.events[e] = d.clock; return nil }

func (d *fakeDriver) eventElapsed(a, b handle) (float32, error) {
	return d.events[b] - d.events[a], nil
}

func (d *fakeDriver) eventDestroy(e handle) error { delete(d.events, e); return nil }

// Parameter readers for fake kernels.
func (l fakeLaunch) ptr(i int) devptr {
	return devptr(binary.LittleEndian.Uint64(l.blob[l.offs[i]:]))
}
func (l fakeLaunch) int(i int) int { return int(int32(binary.LittleEndian.Uint32(l.blob[l.offs[i]:]))) }
func (l fakeLaunch) float(i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(l.blob[l.offs[i]:]))
}

// f32s reads n float32s at p.
func (d *fakeDriver) f32s(p devptr, n int) ([]float32, error) {
	b, err := d.mem(p, 4*n)
	if err != nil {
		return nil, err
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

func (d *fakeDriver) putF32s(p devptr, v []float32) error {
	b, err := d.mem(p, 4*len(v))
	if err != nil {
		return err
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return nil
}

// fakeCompiler "compiles" a source into an image listing the entries it
// defines (extern "C" __global__ void NAME). A source containing "#error"
// fails with an NVRTC-style log pointing at that line.
type fakeCompiler struct {
	compiles    int
	failCubin   bool // CUBIN fails with an invalid option (an NVRTC too old for the arch)
	lastOpts    []string
	lastHeaders []header
	// needs, when set, decides whether a source including cuda_fp16.h
	// compiles with these options and headers.
	needs func(opts []string, headers []header) bool
}

func (c *fakeCompiler) version() (int, int) { return 13, 0 }
func (c *fakeCompiler) path() string        { return "/fake/libnvrtc.so.13" }

func (c *fakeCompiler) compile(src, name string, opts []string, headers []header, cubin bool) ([]byte, string, error) {
	c.compiles++
	c.lastOpts = opts
	c.lastHeaders = headers
	if c.needs != nil && strings.Contains(src, "cuda_fp16.h") && !c.needs(opts, headers) {
		log := name + "(1): error: identifier \"NV_IS_DEVICE\" is undefined"
		return nil, log, &nvrtcError{Call: "nvrtcCompileProgram", Code: nvrtcCompilation, Text: "NVRTC_ERROR_COMPILATION"}
	}
	if cubin && c.failCubin {
		return nil, "", &nvrtcError{Call: "nvrtcCompileProgram", Code: nvrtcInvalidOption, Text: "NVRTC_ERROR_INVALID_OPTION"}
	}
	var entries []string
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, "#error") {
			log := fmt.Sprintf("%s(%d): error: %s\n\n1 error detected in the compilation of \"%s\".", name, i+1, strings.TrimSpace(line), name)
			return nil, log, &nvrtcError{Call: "nvrtcCompileProgram", Code: nvrtcCompilation, Text: "NVRTC_ERROR_COMPILATION"}
		}
		if _, rest, ok := strings.Cut(line, "__global__ void "); ok {
			entries = append(entries, strings.TrimSpace(strings.SplitN(rest, "(", 2)[0]))
		}
	}
	sort.Strings(entries)
	return []byte("FAKE " + strings.Join(entries, " ")), "", nil
}

// fakeBackend returns a Backend over a fresh fake device with cfg (the
// default configuration when cfg is nil) and the test kernels registered.
func fakeBackend(t *testing.T, cfg *config) (*Backend, *fakeDriver, *fakeCompiler) {
	t.Helper()
	d := newFakeDriver()
	registerTestKernels(d)
	c := &fakeCompiler{}
	conf, err := parseConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		conf = *cfg
	}
	b, err := newBackend(newDevice(d, c, []string{"/fake/include"}), conf)
	if err != nil {
		t.Fatal(err)
	}
	return b, d, c
}

// testConfig is the default configuration with changes applied.
func testConfig(change func(*config)) *config {
	c, _ := parseConfig(func(string) string { return "" })
	c.timeout = 2 * time.Second
	if change != nil {
		change(&c)
	}
	return &c
}

// backendSpec is a composed-kernel spec of 128 threads.
func backendSpec(name, src, entry string) backend.KernelSpec {
	return backend.KernelSpec{Name: name, CUDA: src, Entry: entry, Threads: 128}
}
