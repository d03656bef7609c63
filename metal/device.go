package metal

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// device is the process's Metal device: its properties, the compile
// options, and the pipeline cache every Backend on it shares.
type device struct {
	o    *objc
	dev  id
	info deviceInfo
	opts id // MTLCompileOptions, owned
	// lang is the MSL language version asked for; mathMode how fast math
	// was turned off ("mathMode=safe" from macOS 15, "fastMathEnabled=NO"
	// before).
	lang     string
	mathMode string

	mu    sync.Mutex
	pipes map[pipeKey]*pipeline
}

// deviceInfo is what the backend reads about the device once, at open.
type deviceInfo struct {
	name       string
	os         string // the macOS version string
	unified    bool
	maxBuffer  int    // maxBufferLength
	maxTGMem   int    // maxThreadgroupMemoryLength
	workingSet uint64 // recommendedMaxWorkingSetSize
	families   []string
	page       int
}

// gpuFamilies are the families Provenance reports (MTLGPUFamily values).
var gpuFamilies = []struct {
	name string
	v    int
}{{"apple7", 1007}, {"apple8", 1008}, {"apple9", 1009}, {"apple10", 1010}, {"metal3", 5001}, {"metal4", 5002}}

// run calls fn on the calling goroutine locked to its OS thread, inside an
// autorelease pool: objects Metal returns autoreleased (command buffers,
// encoders, strings, errors) live until fn returns, and the pool is
// drained on the thread that pushed it.
func (d *device) run(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pool := d.o.rt.poolPush()
	defer d.o.rt.poolPop(pool)
	return fn()
}

// openDevice opens the system's default Metal device through rt, reads
// its properties and prepares the compile options. It fails with an
// ErrUnavailable error when there is no device or it is not an Apple
// silicon GPU (the kernels need MTLGPUFamilyApple7: SIMD groups of 32).
func openDevice(rt objcRuntime) (*device, error) {
	d := &device{o: newObjc(rt), pipes: map[pipeKey]*pipeline{}}
	o := d.o
	err := d.run(func() error {
		d.dev = rt.defaultDevice()
		if d.dev == 0 {
			return unavailable("MTLCreateSystemDefaultDevice returned nil: this Mac has no Metal device")
		}
		in := &d.info
		in.name = o.goString(o.sendID(msgDeviceName, d.dev))
		in.unified = o.sendBool(msgHasUnifiedMemory, d.dev)
		in.maxBuffer = int(o.send(msgMaxBufferLength, d.dev))
		in.maxTGMem = int(o.send(msgMaxThreadgroupMemoryLength, d.dev))
		in.workingSet = uint64(o.send(msgRecommendedMaxWorkingSetSize, d.dev))
		in.page = rt.pageSize()
		for _, f := range gpuFamilies {
			if o.sendBool(msgSupportsFamily, d.dev, uintptr(f.v)) {
				in.families = append(in.families, f.name)
			}
		}
		if pi := o.sendID(msgProcessInfo, rt.class("NSProcessInfo")); pi != 0 {
			in.os = o.goString(o.sendID(msgOSVersionString, pi))
		}
		if !o.sendBool(msgSupportsFamily, d.dev, gpuFamilyApple7) {
			return unavailable("%s is not an Apple silicon GPU (no MTLGPUFamilyApple7): the kernels need SIMD groups of 32", in.name)
		}
		if in.maxTGMem < 16<<10 || in.maxBuffer <= 0 {
			return unavailable("%s reports implausible limits (maxThreadgroupMemoryLength %d, maxBufferLength %d)", in.name, in.maxTGMem, in.maxBuffer)
		}
		d.opts = o.sendID(msgInit, o.sendID(msgAlloc, rt.class("MTLCompileOptions")))
		if d.opts == 0 {
			return unavailable("MTLCompileOptions alloc/init returned nil")
		}
		o.send(msgSetLanguageVersion, d.opts, languageVersion3_0)
		d.lang = "3.0"
		if o.sendBool(msgRespondsToSelector, d.opts, uintptr(o.sels[msgSetMathMode])) {
			o.send(msgSetMathMode, d.opts, mathModeSafe)
			d.mathMode = "mathMode=safe"
		} else {
			o.send(msgSetFastMathEnabled, d.opts, boolArg(false))
			d.mathMode = "fastMathEnabled=NO"
		}
		return nil
	})
	if err != nil {
		d.run(func() error {
			o.release(d.opts)
			o.release(d.dev)
			return nil
		})
		return nil, err
	}
	return d, nil
}

// pipeKey identifies a pipeline: its source and entry.
type pipeKey struct {
	src   [32]byte
	entry string
}

// pipeline is a compiled kernel: its MTLComputePipelineState and limits.
type pipeline struct {
	pso        id
	maxThreads int // maxTotalThreadsPerThreadgroup
	width      int // threadExecutionWidth
	staticTG   int // staticThreadgroupMemoryLength
}

// pipeline compiles src (once per process: pipelines are cached by source
// and entry) and returns the pipeline of its function entry. A failure
// is a *CompileError carrying Metal's log; label names the kernel.
func (d *device) pipeline(label, src, entry string) (*pipeline, error) {
	key := pipeKey{sha256.Sum256([]byte(src)), entry}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.pipes[key]; ok {
		return p, nil
	}
	o := d.o
	var p *pipeline
	err := d.run(func() error {
		srcStr, err := o.newString(src)
		if err != nil {
			return fmt.Errorf("metal: kernel %s: %w", label, err)
		}
		defer o.release(srcStr)
		var nsErr id
		lib := o.sendID(msgNewLibraryWithSource, d.dev, uintptr(srcStr), uintptr(d.opts), uintptr(unsafe.Pointer(&nsErr)))
		if lib == 0 {
			return &CompileError{Kernel: label, Entry: entry, Step: "newLibraryWithSource:options:error:", Log: orUnknown(o.errorText(nsErr))}
		}
		defer o.release(lib)
		name, err := o.newString(entry)
		if err != nil {
			return fmt.Errorf("metal: kernel %s: %w", label, err)
		}
		defer o.release(name)
		fn := o.sendID(msgNewFunctionWithName, lib, uintptr(name))
		if fn == 0 {
			return &CompileError{Kernel: label, Entry: entry, Step: "newFunctionWithName:", Log: "the compiled library has no function " + entry}
		}
		defer o.release(fn)
		nsErr = 0
		pso := o.sendID(msgNewComputePipelineState, d.dev, uintptr(fn), uintptr(unsafe.Pointer(&nsErr)))
		if pso == 0 {
			return &CompileError{Kernel: label, Entry: entry, Step: "newComputePipelineStateWithFunction:error:", Log: orUnknown(o.errorText(nsErr))}
		}
		p = &pipeline{
			pso:        pso,
			maxThreads: int(o.send(msgMaxTotalThreadsPerThreadgroup, pso)),
			width:      int(o.send(msgThreadExecutionWidth, pso)),
			staticTG:   int(o.send(msgStaticThreadgroupMemoryLength, pso)),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.pipes[key] = p
	return p, nil
}

// orUnknown is s, or a note that Metal gave no error.
func orUnknown(s string) string {
	if s == "" {
		return "(Metal returned nil and no NSError)"
	}
	return s
}

// pipelines is the number of pipelines compiled in the process.
func (d *device) pipelines() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pipes)
}
