//go:build linux && amd64

package cuda

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// cuDriver is the driver interface over libcuda, on one device's primary
// context.
type cuDriver struct {
	lib *cuLib
	ctx uintptr // the primary context, retained once for the process
	inf deviceInfo

	// params is memory outside the Go heap (mmap) that holds a launch's
	// kernelParams array and the values it points to while cuLaunchKernel
	// reads them; the driver copies them before returning.
	mu     sync.Mutex
	params []byte
}

// paramArena is the size of cuDriver.params: the largest parameter blob
// plus one pointer per parameter, then a CUlaunchConfig and one
// CUlaunchAttribute (cuLaunchKernelEx).
const paramArena = maxParamBytes + 8*maxParamBytes/4 + 8 + launchConfigSize + launchAttrSize

// The layouts of cuda.h's CUlaunchConfig (grid and block dimensions and
// sharedMemBytes as 7 uint32, then hStream at 32, attrs at 40, numAttrs
// at 48: 56 bytes) and CUlaunchAttribute (id, 4 bytes of padding, a
// 64-byte value union: 72 bytes) on linux/amd64.
const (
	launchConfigSize = 56
	launchAttrSize   = 72
	// attrProgrammaticStreamSerialization is
	// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.
	attrProgrammaticStreamSerialization = 6
)

// openCU loads lib, initializes the driver and retains device 0's primary
// context. Every failure is an ErrUnavailable error naming the cause.
func openCU(lib string) (*cuDriver, error) {
	l, err := loadCU(lib)
	if err != nil {
		return nil, err
	}
	if err := l.call("cuInit", l.init, 0); err != nil {
		return nil, unavailable("%v", err)
	}
	var n int32
	if err := l.call("cuDeviceGetCount", l.deviceGetCount, uintptr(unsafe.Pointer(&n))); err != nil {
		return nil, unavailable("%v", err)
	}
	if n == 0 {
		return nil, unavailable("no CUDA device (cuDeviceGetCount reports 0; check CUDA_VISIBLE_DEVICES)")
	}
	var dev int32
	if err := l.call("cuDeviceGet", l.deviceGet, uintptr(unsafe.Pointer(&dev)), 0); err != nil {
		return nil, unavailable("%v", err)
	}
	inf, err := l.deviceInfo(dev)
	if err != nil {
		return nil, unavailable("reading device 0: %v", err)
	}
	d := &cuDriver{lib: l, inf: inf}
	if err := l.call("cuDevicePrimaryCtxRetain", l.primaryCtxRetain, uintptr(unsafe.Pointer(&d.ctx)), uintptr(dev)); err != nil {
		return nil, unavailable("%v", err)
	}
	d.params, err = syscall.Mmap(-1, 0, paramArena, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("cuda: mapping %d bytes for kernel parameters: %w", paramArena, err)
	}
	return d, nil
}

func (d *cuDriver) info() deviceInfo { return d.inf }

func (d *cuDriver) pdlSupported() error {
	switch {
	case d.lib.launchKernelEx == 0:
		return fmt.Errorf("libcuda lacks cuLaunchKernelEx")
	case d.inf.ccMajor < 9:
		return fmt.Errorf("compute capability %d.%d (programmatic dependent launch needs 9.0)", d.inf.ccMajor, d.inf.ccMinor)
	}
	return nil
}

func (d *cuDriver) graphsSupported() error {
	if len(d.lib.missingGraph) > 0 {
		return fmt.Errorf("libcuda lacks %s", strings.Join(d.lib.missingGraph, ", "))
	}
	return nil
}

// run locks the goroutine to its OS thread, makes the context current
// there and calls fn. cuCtxSetCurrent is a thread-local store, cheaper
// than handing each call to a dedicated thread.
func (d *cuDriver) run(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.lib.call("cuCtxSetCurrent", d.lib.ctxSetCurrent, d.ctx); err != nil {
		return err
	}
	return fn()
}

func (d *cuDriver) memInfo() (free, total uint64, err error) {
	err = d.lib.call("cuMemGetInfo_v2", d.lib.memGetInfo, uintptr(unsafe.Pointer(&free)), uintptr(unsafe.Pointer(&total)))
	return free, total, err
}

func (d *cuDriver) alloc(n int) (devptr, error) {
	var p uint64
	err := d.lib.call("cuMemAlloc_v2", d.lib.memAlloc, uintptr(unsafe.Pointer(&p)), uintptr(n))
	return devptr(p), err
}

func (d *cuDriver) free(p devptr) error {
	return d.lib.call("cuMemFree_v2", d.lib.memFree, uintptr(p))
}

const streamNonBlocking = 1 // CU_STREAM_NON_BLOCKING: no implicit sync with the legacy stream

func (d *cuDriver) streamCreate() (handle, error) {
	var s uintptr
	err := d.lib.call("cuStreamCreate", d.lib.streamCreate, uintptr(unsafe.Pointer(&s)), streamNonBlocking)
	return handle(s), err
}

func (d *cuDriver) streamDestroy(s handle) error {
	return d.lib.call("cuStreamDestroy_v2", d.lib.streamDestroy, uintptr(s))
}

func (d *cuDriver) query(s handle) (bool, error) {
	switch r := d.lib.result(d.lib.streamQuery, uintptr(s)); r {
	case resultSuccess:
		return true, nil
	case resultNotReady:
		return false, nil
	default:
		return false, d.lib.check("cuStreamQuery", r)
	}
}

func (d *cuDriver) memsetAsync(p devptr, n int, s handle) error {
	return d.lib.call("cuMemsetD8Async", d.lib.memsetD8Async, uintptr(p), 0, uintptr(n), uintptr(s))
}

func (d *cuDriver) htodAsync(dst devptr, src []byte, s handle) error {
	return d.lib.call("cuMemcpyHtoDAsync_v2", d.lib.memcpyHtoDAsync, uintptr(dst), uintptr(unsafe.Pointer(&src[0])), uintptr(len(src)), uintptr(s))
}

func (d *cuDriver) dtohAsync(dst []byte, src devptr, s handle) error {
	return d.lib.call("cuMemcpyDtoHAsync_v2", d.lib.memcpyDtoHAsync, uintptr(unsafe.Pointer(&dst[0])), uintptr(src), uintptr(len(dst)), uintptr(s))
}

func (d *cuDriver) loadModule(image []byte) (handle, error) {
	var m uintptr
	err := d.lib.call("cuModuleLoadData", d.lib.moduleLoadData, uintptr(unsafe.Pointer(&m)), uintptr(unsafe.Pointer(&image[0])))
	return handle(m), err
}

func (d *cuDriver) function(module handle, name string) (handle, error) {
	var f uintptr
	cname := cString(name)
	err := d.lib.call("cuModuleGetFunction", d.lib.moduleGetFunction, uintptr(unsafe.Pointer(&f)), uintptr(module), uintptr(unsafe.Pointer(&cname[0])))
	return handle(f), err
}

func (d *cuDriver) funcAttr(f handle, attr int) (int, error) {
	var v int32
	err := d.lib.call("cuFuncGetAttribute", d.lib.funcGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(attr), uintptr(f))
	return int(v), err
}

func (d *cuDriver) setFuncAttr(f handle, attr, value int) error {
	return d.lib.call("cuFuncSetAttribute", d.lib.funcSetAttribute, uintptr(f), uintptr(attr), uintptr(value))
}

func (d *cuDriver) paramInfo(f handle) ([]paramSlot, bool, error) {
	if d.lib.funcGetParamInfo == 0 {
		return nil, false, nil
	}
	params := []paramSlot{}
	for i := 0; i < maxParamBytes/4; i++ {
		var off, size uint64
		r := d.lib.result(d.lib.funcGetParamInfo, uintptr(f), uintptr(i), uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&size)))
		if r == resultInvalidVal {
			return params, true, nil // past the last parameter
		}
		if err := d.lib.check("cuFuncGetParamInfo", r); err != nil {
			return nil, false, err
		}
		params = append(params, paramSlot{offset: int(off), size: int(size)})
	}
	return nil, false, fmt.Errorf("cuFuncGetParamInfo: more than %d parameters", maxParamBytes/4)
}

// launch copies the packed parameters into the mmap'd arena, builds the
// kernelParams array there and launches.
func (d *cuDriver) launch(f handle, cfg launchConfig, s handle, blob []byte, offs []int) error {
	n := len(offs)
	if 8*n+len(blob)+8+launchConfigSize+launchAttrSize > len(d.params) {
		return fmt.Errorf("cuda: %d parameters in %d bytes exceed the launch arena", n, len(blob))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var kp uintptr
	base := uintptr(unsafe.Pointer(&d.params[0])) // not Go memory: it never moves
	if n > 0 {
		copy(d.params[8*n:], blob)
		for i, o := range offs {
			binary.LittleEndian.PutUint64(d.params[8*i:], uint64(base+uintptr(8*n+o)))
		}
		kp = base
	}
	if cfg.pdl {
		// The CUlaunchConfig and its one attribute after the parameters.
		at := (8*n + len(blob) + 7) &^ 7
		lc := d.params[at : at+launchConfigSize]
		la := d.params[at+launchConfigSize : at+launchConfigSize+launchAttrSize]
		clear(lc)
		clear(la)
		for i, v := range [...]uint32{cfg.grid[0], cfg.grid[1], cfg.grid[2], cfg.block[0], cfg.block[1], cfg.block[2], cfg.shared} {
			binary.LittleEndian.PutUint32(lc[4*i:], v)
		}
		binary.LittleEndian.PutUint64(lc[32:], uint64(s))
		binary.LittleEndian.PutUint64(lc[40:], uint64(base+uintptr(at+launchConfigSize)))
		binary.LittleEndian.PutUint32(lc[48:], 1)
		binary.LittleEndian.PutUint32(la[0:], attrProgrammaticStreamSerialization)
		binary.LittleEndian.PutUint32(la[8:], 1) // programmaticStreamSerializationAllowed
		return d.lib.call("cuLaunchKernelEx", d.lib.launchKernelEx, base+uintptr(at), uintptr(f), kp, 0)
	}
	return d.lib.call("cuLaunchKernel", d.lib.launchKernel, uintptr(f),
		uintptr(cfg.grid[0]), uintptr(cfg.grid[1]), uintptr(cfg.grid[2]),
		uintptr(cfg.block[0]), uintptr(cfg.block[1]), uintptr(cfg.block[2]),
		uintptr(cfg.shared), uintptr(s), kp, 0)
}

const captureThreadLocal = 1 // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL

func (d *cuDriver) beginCapture(s handle) error {
	return d.lib.call("cuStreamBeginCapture_v2", d.lib.streamBeginCapture, uintptr(s), captureThreadLocal)
}

func (d *cuDriver) endCapture(s handle) (handle, error) {
	var g, x uintptr
	if err := d.lib.call("cuStreamEndCapture", d.lib.streamEndCapture, uintptr(s), uintptr(unsafe.Pointer(&g))); err != nil {
		return 0, err
	}
	err := d.lib.call("cuGraphInstantiateWithFlags", d.lib.graphInstantiate, uintptr(unsafe.Pointer(&x)), g, 0)
	if derr := d.lib.call("cuGraphDestroy", d.lib.graphDestroy, g); err == nil {
		err = derr
	}
	return handle(x), err
}

func (d *cuDriver) graphLaunch(x, s handle) error {
	return d.lib.call("cuGraphLaunch", d.lib.graphLaunch, uintptr(x), uintptr(s))
}

func (d *cuDriver) graphDestroy(x handle) error {
	return d.lib.call("cuGraphExecDestroy", d.lib.graphExecDestroy, uintptr(x))
}

func (d *cuDriver) eventCreate() (handle, error) {
	var e uintptr
	err := d.lib.call("cuEventCreate", d.lib.eventCreate, uintptr(unsafe.Pointer(&e)), 0)
	return handle(e), err
}

func (d *cuDriver) eventRecord(e, s handle) error {
	return d.lib.call("cuEventRecord", d.lib.eventRecord, uintptr(e), uintptr(s))
}

func (d *cuDriver) eventElapsed(start, end handle) (float32, error) {
	var ms float32
	err := d.lib.call("cuEventElapsedTime", d.lib.eventElapsedTime, uintptr(unsafe.Pointer(&ms)), uintptr(start), uintptr(end))
	return ms, err
}

func (d *cuDriver) eventDestroy(e handle) error {
	return d.lib.call("cuEventDestroy_v2", d.lib.eventDestroy, uintptr(e))
}
