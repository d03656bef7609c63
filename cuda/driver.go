package cuda

// devptr is a device address (CUdeviceptr).
type devptr uint64

// handle is an opaque driver object: a module, function, stream, event or
// executable graph.
type handle uintptr

// launchConfig is the launch shape of one kernel launch.
type launchConfig struct {
	grid, block [3]uint32
	shared      uint32 // dynamic shared memory in bytes
	// pdl launches with programmatic stream serialization allowed
	// (cuLaunchKernelEx): the kernel may start while the previous one
	// finishes, and waits for it itself (pdlPrologue).
	pdl bool
}

// paramSlot is one kernel parameter as the driver lays it out
// (cuFuncGetParamInfo).
type paramSlot struct{ offset, size int }

// deviceInfo is what the backend reads about the device once, at open.
type deviceInfo struct {
	name           string
	ccMajor        int
	ccMinor        int
	sms            int
	totalMem       uint64
	maxThreads     int    // threads per block
	maxBlock       [3]int // block dimensions
	maxGrid        [3]int // grid dimensions
	maxShared      int    // static shared memory per block without opt-in
	maxSharedOptin int    // dynamic shared memory per block with opt-in
	driverVersion  int    // cuDriverGetVersion: 1000·major + 10·minor
}

// Function attributes (CUfunction_attribute).
const (
	attrMaxThreadsPerBlock  = 0
	attrSharedSizeBytes     = 1
	attrNumRegs             = 4
	attrMaxDynamicSharedMem = 8
)

// defaultSharedLimit is the dynamic shared memory a kernel may use without
// opting in with cuFuncSetAttribute.
const defaultSharedLimit = 48 << 10

// driver is the CUDA driver API as the backend uses it, on one device. The
// real one (linux/amd64) calls libcuda through purego; tests use a fake.
//
// Every method except run, info, graphsSupported and pdlSupported must be called inside
// run, which makes the device's context current on the calling OS thread
// for the duration of fn. Stream-ordered operations (the *Async methods,
// launch, graphLaunch, eventRecord) return as soon as the work is queued;
// host memory passed to htodAsync and dtohAsync may be reused once the
// method returns (the driver stages pageable memory).
type driver interface {
	run(fn func() error) error
	info() deviceInfo
	// graphsSupported is nil when the driver has the graph API, else why
	// not.
	graphsSupported() error
	// pdlSupported is nil when launches can allow programmatic dependent
	// launch (cuLaunchKernelEx, compute capability 9.0 or newer), else
	// why not.
	pdlSupported() error

	memInfo() (free, total uint64, err error)
	alloc(n int) (devptr, error)
	free(p devptr) error

	streamCreate() (handle, error)
	streamDestroy(s handle) error
	// query reports whether every operation queued on s has finished; err
	// is the first error the stream met (sticky).
	query(s handle) (done bool, err error)
	memsetAsync(p devptr, n int, s handle) error // zero n bytes
	htodAsync(dst devptr, src []byte, s handle) error
	dtohAsync(dst []byte, src devptr, s handle) error

	loadModule(image []byte) (handle, error)
	function(module handle, name string) (handle, error)
	funcAttr(f handle, attr int) (int, error)
	setFuncAttr(f handle, attr, value int) error
	// paramInfo lists f's parameters; ok is false when the driver cannot
	// tell (cuFuncGetParamInfo needs CUDA 12.4).
	paramInfo(f handle) (params []paramSlot, ok bool, err error)
	// launch queues f on s. blob holds the parameter values packed at
	// offs (see pack.go).
	launch(f handle, cfg launchConfig, s handle, blob []byte, offs []int) error

	beginCapture(s handle) error
	// endCapture ends s's capture and instantiates the captured graph.
	endCapture(s handle) (exec handle, err error)
	graphLaunch(exec, s handle) error
	graphDestroy(exec handle) error

	eventCreate() (handle, error)
	eventRecord(e, s handle) error
	eventElapsed(start, end handle) (ms float32, err error)
	eventDestroy(e handle) error
}

// compiler is NVRTC as the backend uses it.
type compiler interface {
	// version is NVRTC's major and minor version.
	version() (major, minor int)
	// path is the library file in use ("" when unknown).
	path() string
	// compile compiles src (program name name, used in the log) with opts
	// and the in-memory headers, and returns a CUBIN (cubin true) or a
	// NUL-terminated PTX image. log is NVRTC's program log, also on
	// failure.
	compile(src, name string, opts []string, headers []header, cubin bool) (image []byte, log string, err error)
}
