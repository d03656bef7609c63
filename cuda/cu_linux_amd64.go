//go:build linux && amd64

package cuda

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuLib is libcuda.so.1's entry points. Names are NVIDIA's cuda.h
// spellings; where cuda.h maps a name to a versioned symbol (_v2) that
// symbol is the one resolved, and the newest variant is tried first.
type cuLib struct {
	init, driverGetVersion, deviceGetCount, deviceGet, deviceGetName, deviceGetAttribute uintptr
	deviceTotalMem, primaryCtxRetain, ctxSetCurrent, ctxSynchronize                      uintptr
	getErrorName, getErrorString                                                         uintptr
	memGetInfo, memAlloc, memFree, memsetD8Async, memcpyHtoDAsync, memcpyDtoHAsync       uintptr
	streamCreate, streamDestroy, streamQuery                                             uintptr
	moduleLoadData, moduleGetFunction, funcGetAttribute, funcSetAttribute, launchKernel  uintptr
	launchKernelEx                                                                       uintptr // CUDA ≥ 11.8; 0 when absent
	funcGetParamInfo                                                                     uintptr // CUDA ≥ 12.4; 0 when absent
	streamBeginCapture, streamEndCapture, graphInstantiate, graphLaunch                  uintptr
	graphExecDestroy, graphDestroy                                                       uintptr
	eventCreate, eventRecord, eventElapsedTime, eventDestroy                             uintptr
	missingGraph                                                                         []string // graph symbols absent
}

// symbol is one entry point: the first of names the library exports.
type symbol struct {
	dst   *uintptr
	names []string
	need  bool // the backend cannot work without it
	graph bool // needed for CUDA graphs only
}

func (l *cuLib) symbols() []symbol {
	s := func(dst *uintptr, names ...string) symbol { return symbol{dst: dst, names: names, need: true} }
	g := func(dst *uintptr, names ...string) symbol { return symbol{dst: dst, names: names, graph: true} }
	return []symbol{
		s(&l.init, "cuInit"),
		s(&l.driverGetVersion, "cuDriverGetVersion"),
		s(&l.deviceGetCount, "cuDeviceGetCount"),
		s(&l.deviceGet, "cuDeviceGet"),
		s(&l.deviceGetName, "cuDeviceGetName"),
		s(&l.deviceGetAttribute, "cuDeviceGetAttribute"),
		s(&l.deviceTotalMem, "cuDeviceTotalMem_v2"),
		s(&l.primaryCtxRetain, "cuDevicePrimaryCtxRetain"),
		s(&l.ctxSetCurrent, "cuCtxSetCurrent"),
		s(&l.ctxSynchronize, "cuCtxSynchronize"),
		s(&l.getErrorName, "cuGetErrorName"),
		s(&l.getErrorString, "cuGetErrorString"),
		s(&l.memGetInfo, "cuMemGetInfo_v2"),
		s(&l.memAlloc, "cuMemAlloc_v2"),
		s(&l.memFree, "cuMemFree_v2"),
		s(&l.memsetD8Async, "cuMemsetD8Async"),
		s(&l.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
		s(&l.memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
		s(&l.streamCreate, "cuStreamCreate"),
		s(&l.streamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy"),
		s(&l.streamQuery, "cuStreamQuery"),
		s(&l.moduleLoadData, "cuModuleLoadData"),
		s(&l.moduleGetFunction, "cuModuleGetFunction"),
		s(&l.funcGetAttribute, "cuFuncGetAttribute"),
		s(&l.funcSetAttribute, "cuFuncSetAttribute"),
		s(&l.launchKernel, "cuLaunchKernel"),
		{dst: &l.funcGetParamInfo, names: []string{"cuFuncGetParamInfo"}},
		{dst: &l.launchKernelEx, names: []string{"cuLaunchKernelEx"}},
		g(&l.streamBeginCapture, "cuStreamBeginCapture_v2"),
		g(&l.streamEndCapture, "cuStreamEndCapture"),
		g(&l.graphInstantiate, "cuGraphInstantiateWithFlags"),
		g(&l.graphLaunch, "cuGraphLaunch"),
		g(&l.graphExecDestroy, "cuGraphExecDestroy"),
		g(&l.graphDestroy, "cuGraphDestroy"),
		s(&l.eventCreate, "cuEventCreate"),
		s(&l.eventRecord, "cuEventRecord"),
		s(&l.eventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
		s(&l.eventDestroy, "cuEventDestroy_v2", "cuEventDestroy"),
	}
}

// loadCU opens the driver library and resolves its entry points. Every
// failure is an ErrUnavailable error naming the library and the cause.
func loadCU(lib string) (*cuLib, error) {
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, unavailable("cannot load %s (the NVIDIA driver library; is the NVIDIA driver installed?): %v", lib, err)
	}
	l := &cuLib{}
	var missing []string
	for _, s := range l.symbols() {
		for _, n := range s.names {
			if p, err := purego.Dlsym(h, n); err == nil && p != 0 {
				*s.dst = p
				break
			}
		}
		if *s.dst != 0 {
			continue
		}
		switch {
		case s.need:
			missing = append(missing, s.names[0])
		case s.graph:
			l.missingGraph = append(l.missingGraph, s.names[0])
		}
	}
	if len(missing) > 0 {
		return nil, unavailable("%s lacks %s (the driver is too old: CUDA 12 or newer is needed)", lib, strings.Join(missing, ", "))
	}
	return l, nil
}

// call calls fn and turns its CUresult into an *Error naming the call.
// Pointers converted to uintptr in the call's arguments are kept alive and
// in place (on the heap) until it returns.
//
//go:uintptrescapes
func (l *cuLib) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	return l.check(name, int(int32(uint32(r))))
}

// result calls fn and returns its CUresult (arguments as for call).
//
//go:uintptrescapes
func (l *cuLib) result(fn uintptr, args ...uintptr) int {
	r, _, _ := purego.SyscallN(fn, args...)
	return int(int32(uint32(r)))
}

// check turns a CUresult into nil or an *Error with the driver's name and
// description of the code.
func (l *cuLib) check(name string, code int) error {
	if code == resultSuccess {
		return nil
	}
	return &Error{Call: name, Code: code, Name: l.errText(l.getErrorName, code), Text: l.errText(l.getErrorString, code)}
}

// errText calls cuGetErrorName or cuGetErrorString ("" for an unknown code).
func (l *cuLib) errText(fn uintptr, code int) string {
	var p *byte
	r, _, _ := purego.SyscallN(fn, uintptr(code), uintptr(unsafe.Pointer(&p)))
	if uint32(r) != 0 || p == nil {
		return ""
	}
	return goString(unsafe.Pointer(p))
}

// goString copies a NUL-terminated C string.
func goString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// cString returns s as a NUL-terminated byte slice.
func cString(s string) []byte { return append([]byte(s), 0) }

// Device attributes (CUdevice_attribute).
const (
	devAttrMaxThreadsPerBlock  = 1
	devAttrMaxBlockDimX        = 2
	devAttrMaxGridDimX         = 5
	devAttrMaxSharedPerBlock   = 8
	devAttrMultiprocessorCount = 16
	devAttrCCMajor             = 75
	devAttrCCMinor             = 76
	devAttrMaxSharedOptin      = 97
)

// deviceInfo reads the device's name, compute capability and limits.
func (l *cuLib) deviceInfo(dev int32) (deviceInfo, error) {
	var inf deviceInfo
	attr := func(a int) (int, error) {
		var v int32
		err := l.call("cuDeviceGetAttribute", l.deviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), uintptr(dev))
		return int(v), err
	}
	var errs []error
	get := func(dst *int, a int) {
		v, err := attr(a)
		*dst = v
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute %d: %w", a, err))
		}
	}
	get(&inf.maxThreads, devAttrMaxThreadsPerBlock)
	for i := range 3 {
		get(&inf.maxBlock[i], devAttrMaxBlockDimX+i)
		get(&inf.maxGrid[i], devAttrMaxGridDimX+i)
	}
	get(&inf.maxShared, devAttrMaxSharedPerBlock)
	get(&inf.maxSharedOptin, devAttrMaxSharedOptin)
	get(&inf.sms, devAttrMultiprocessorCount)
	get(&inf.ccMajor, devAttrCCMajor)
	get(&inf.ccMinor, devAttrCCMinor)
	name := make([]byte, 256)
	if err := l.call("cuDeviceGetName", l.deviceGetName, uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), uintptr(dev)); err != nil {
		errs = append(errs, err)
	}
	inf.name = goString(unsafe.Pointer(&name[0]))
	var total uint64
	if err := l.call("cuDeviceTotalMem_v2", l.deviceTotalMem, uintptr(unsafe.Pointer(&total)), uintptr(dev)); err != nil {
		errs = append(errs, err)
	}
	inf.totalMem = total
	var ver int32
	if err := l.call("cuDriverGetVersion", l.driverGetVersion, uintptr(unsafe.Pointer(&ver))); err != nil {
		errs = append(errs, err)
	}
	inf.driverVersion = int(ver)
	if len(errs) > 0 {
		return inf, errs[0]
	}
	if inf.maxSharedOptin < inf.maxShared {
		inf.maxSharedOptin = inf.maxShared
	}
	return inf, nil
}
