package metal

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// The Metal half of fakeRT: the answers to each message, Metal's objects
// (buffers, libraries, pipelines, command buffers, encoders) and the
// checks Metal's validation would make on them.

// handle answers one checked message.
func (f *fakeRT) handle(name string, recv id, a []uintptr) uintptr {
	o := f.objs[recv]
	switch name {
	case "alloc":
		return uintptr(f.newObj(strings.TrimPrefix(o.class, "Class:"), nil, 1))
	case "init":
		if o.class == "MTLCompileOptions" {
			o.v = &foptions{}
		}
		return uintptr(recv)
	case "retain":
		o.refs++
		return uintptr(recv)
	case "release":
		f.releaseObj(recv)
		return 0
	case "respondsToSelector:":
		return uintptr(boolArg(f.selNames[sel(a[0])] == "setMathMode:" && !f.noMathMode))
	case "initWithCString:encoding:":
		if a[1] != nsUTF8 {
			f.violate("initWithCString:encoding: with encoding %d", a[1])
		}
		o.v = f.cString(a[0], 1<<30)
		return uintptr(recv)
	case "UTF8String":
		b := append([]byte(o.v.(string)), 0)
		p := f.pools[len(f.pools)-1]
		p.keep = append(p.keep, b)
		return uintptr(unsafe.Pointer(&b[0]))
	case "localizedDescription":
		return uintptr(f.newString(o.v.(*ferror).desc))
	case "domain":
		return uintptr(f.newString(o.v.(*ferror).domain))
	case "code":
		return uintptr(o.v.(*ferror).code)
	case "processInfo":
		return uintptr(recv + 16)
	case "operatingSystemVersionString":
		return uintptr(f.newString("Version 15.1 (fake)"))
	case "name":
		return uintptr(f.newString("Fake Apple M0"))
	case "newCommandQueue":
		return uintptr(f.newObj("MTLCommandQueue", nil, 1))
	case "newBufferWithLength:options:", "newBufferWithBytes:length:options:", "newBufferWithBytesNoCopy:length:options:deallocator:":
		return uintptr(f.newBuffer(name, a))
	case "newLibraryWithSource:options:error:":
		return uintptr(f.newLibrary(a))
	case "newComputePipelineStateWithFunction:error:":
		return uintptr(f.newPipeline(a))
	case "maxBufferLength":
		return 1 << 32
	case "maxThreadgroupMemoryLength":
		return 32 << 10
	case "hasUnifiedMemory":
		return 1
	case "supportsFamily:":
		v := int(a[0])
		return uintptr(boolArg((v >= 1001 && v <= f.family) || v == 5001))
	case "recommendedMaxWorkingSetSize":
		return 16 << 30
	case "currentAllocatedSize":
		return 1 << 20
	case "commandBuffer":
		return uintptr(f.autoreleased("MTLCommandBuffer", &fcmdbuf{}))
	case "computeCommandEncoder":
		cb := o.v.(*fcmdbuf)
		if cb.encoding != nil && !cb.encoding.ended || cb.status != statusNotEnqueued {
			f.violate("computeCommandEncoder on a command buffer that is encoding or committed")
		}
		cb.encoding = &fencoder{cb: cb, binds: map[int]fbind{}, tg: map[int]int{}}
		return uintptr(f.autoreleased("MTLComputeCommandEncoder", cb.encoding))
	case "commit":
		f.commit(o.v.(*fcmdbuf))
		return 0
	case "status":
		return uintptr(o.v.(*fcmdbuf).status)
	case "error":
		return uintptr(o.v.(*fcmdbuf).err)
	case "setComputePipelineState:":
		e := f.encoder(o)
		if po := f.obj(id(a[0])); po == nil || po.class != "MTLComputePipelineState" {
			f.violate("setComputePipelineState: with a %v", po)
		} else if e != nil {
			e.pso = po.v.(*fpipeline)
		}
		return 0
	case "setBuffer:offset:atIndex:":
		bo := f.obj(id(a[0]))
		if bo == nil || bo.class != "MTLBuffer" {
			f.violate("setBuffer: with a %v", bo)
			return 0
		}
		buf := bo.v.(*fbuffer)
		if int(a[1]) > buf.n || a[2] > 30 {
			f.violate("setBuffer: offset %d of a %d-byte buffer at index %d", a[1], buf.n, a[2])
		}
		if e := f.encoder(o); e != nil {
			e.binds[int(a[2])] = fbind{buf: buf, off: int(a[1])}
		}
		return 0
	case "setBytes:length:atIndex:":
		if a[1] == 0 || a[1] > 4096 || a[2] > 30 {
			f.violate("setBytes: %d bytes at index %d (Metal takes 1…4096)", a[1], a[2])
			return 0
		}
		if e := f.encoder(o); e != nil {
			e.binds[int(a[2])] = fbind{bytes: slices.Clone(unsafe.Slice((*byte)(ptrOf(a[0])), a[1]))}
		}
		return 0
	case "setThreadgroupMemoryLength:atIndex:":
		if a[0]%16 != 0 || a[0] > 32<<10 {
			f.violate("setThreadgroupMemoryLength: %d bytes (want a multiple of 16, at most 32 KiB)", a[0])
		}
		if e := f.encoder(o); e != nil {
			e.tg[int(a[1])] = int(a[0])
		}
		return 0
	case "endEncoding":
		if e := f.encoder(o); e != nil {
			e.ended = true
		}
		return 0
	case "contents":
		return o.v.(*fbuffer).ptr
	case "length":
		return uintptr(o.v.(*fbuffer).n)
	case "newFunctionWithName:":
		lib := o.v.(*flibrary)
		entry := f.objs[id(a[0])].v.(string)
		k, err := parseKernel(lib.src, entry)
		if err != nil {
			return 0
		}
		return uintptr(f.newObj("MTLFunction", &ffunction{src: lib.src, entry: entry, k: k}, 1))
	case "maxTotalThreadsPerThreadgroup":
		return uintptr(o.v.(*fpipeline).maxThreads)
	case "threadExecutionWidth":
		return uintptr(o.v.(*fpipeline).width)
	case "staticThreadgroupMemoryLength":
		return 0
	case "setLanguageVersion:":
		o.v.(*foptions).lang = uint64(a[0])
		return 0
	case "setFastMathEnabled:":
		o.v.(*foptions).fastOff = a[0] == 0
		return 0
	case "setMathMode:":
		if f.noMathMode {
			f.violate("setMathMode: sent though respondsToSelector: said no")
		}
		o.v.(*foptions).mathSafe = a[0] == mathModeSafe
		return 0
	}
	f.violate("the fake does not answer %s", name)
	return 0
}

// encoder returns the encoder object's state, or nil after a violation.
func (f *fakeRT) encoder(o *fobj) *fencoder {
	e := o.v.(*fencoder)
	if e.ended {
		f.violate("message to an encoder after endEncoding")
		return nil
	}
	return e
}

func (f *fakeRT) newBuffer(name string, a []uintptr) id {
	if f.failAlloc {
		return 0
	}
	b := &fbuffer{}
	switch name {
	case "newBufferWithLength:options:", "newBufferWithBytes:length:options:":
		length, opts := int(a[0]), a[1]
		if name != "newBufferWithLength:options:" {
			length, opts = int(a[1]), a[2]
		}
		if opts != resourceStorageModeShared {
			f.violate("%s with options %#x, want shared storage", name, opts)
		}
		if length <= 0 {
			f.violate("%s of %d bytes: Metal returns nil", name, length)
			return 0
		}
		b.n = length
		if f.gpu != nil {
			p, err := f.gpu.alloc(length)
			if err != nil {
				return 0
			}
			b.ptr = p
		} else {
			b.mem = make([]byte, length)
			b.ptr = uintptr(unsafe.Pointer(&b.mem[0]))
		}
		if name == "newBufferWithBytes:length:options:" {
			copy(unsafe.Slice((*byte)(ptrOf(b.ptr)), length), unsafe.Slice((*byte)(ptrOf(a[0])), length))
		}
	default:
		if f.failNoCopy {
			return 0
		}
		p, n := a[0], int(a[1])
		if p%uintptr(f.page) != 0 || n%f.page != 0 || n == 0 {
			f.violate("newBufferWithBytesNoCopy: %d bytes at %#x: want whole pages of %d bytes", n, p, f.page)
			return 0
		}
		if a[2] != resourceStorageModeShared || a[3] != 0 {
			f.violate("newBufferWithBytesNoCopy: options %#x, deallocator %#x", a[2], a[3])
		}
		b.ptr, b.n, b.noCopy = p, n, true
	}
	return f.newObj("MTLBuffer", b, 1)
}

func (f *fakeRT) newLibrary(a []uintptr) id {
	src := f.objs[id(a[0])].v.(string)
	opts := f.obj(id(a[1]))
	if opts == nil || opts.class != "MTLCompileOptions" {
		f.violate("newLibraryWithSource: without MTLCompileOptions")
	} else if op := opts.v.(*foptions); op.lang != languageVersion3_0 || (!op.fastOff && !op.mathSafe) {
		f.violate("newLibraryWithSource: options %+v: want MSL 3.0 and fast math off", *op)
	}
	if a[2] == 0 {
		f.violate("newLibraryWithSource: without an error out-parameter")
	}
	if f.compileLog != "" {
		*(*id)(ptrOf(a[2])) = f.newError(f.compileLog, "MTLLibraryErrorDomain", 3)
		return 0
	}
	return f.newObj("MTLLibrary", &flibrary{src: src}, 1)
}

func (f *fakeRT) newPipeline(a []uintptr) id {
	fo := f.obj(id(a[0]))
	if fo == nil || fo.class != "MTLFunction" {
		f.violate("newComputePipelineStateWithFunction: with a %v", fo)
		return 0
	}
	fn := fo.v.(*ffunction)
	msg := f.failPipe
	if msg == "" && f.gpu != nil {
		if err := f.gpu.prepare(fn.src, fn.entry); err != nil {
			msg = err.Error()
		}
	}
	if msg != "" {
		*(*id)(ptrOf(a[1])) = f.newError(msg, "AGXMetalErrorDomain", 1)
		return 0
	}
	fo.refs++ // the pipeline keeps its function
	return f.newObj("MTLComputePipelineState", &fpipeline{fn: fn, maxThreads: f.maxThreads, width: f.width}, 1)
}

// dispatch records dispatchThreadgroups:threadsPerThreadgroup:, checking
// it as Metal's validation layer would: a pipeline set, every buffer
// parameter bound (a buffer where the kernel takes a pointer, bytes where
// it takes a reference), threadgroup memory where it takes some.
func (f *fakeRT) dispatch(recv id, grid, threads mtlSize) {
	e := f.encoder(f.objs[recv])
	if e == nil {
		return
	}
	if e.pso == nil {
		f.violate("dispatch without a pipeline state")
		return
	}
	if int(threads.Width*threads.Height*threads.Depth) > e.pso.maxThreads || threads.Width == 0 {
		f.violate("dispatch of %v threads per threadgroup, the pipeline allows %d", threads, e.pso.maxThreads)
	}
	if grid.Width == 0 || grid.Height == 0 || grid.Depth == 0 {
		f.violate("dispatch of an empty grid %v", grid)
	}
	for _, p := range e.pso.fn.k.Params {
		bd, bound := e.binds[p.Index]
		switch p.Role {
		case roleBuffer:
			if !bound || bd.buf == nil {
				f.violate("%s: [[buffer(%d)]] %s has no buffer bound", e.pso.fn.entry, p.Index, p.Name)
			}
		case roleBytes:
			if !bound || bd.bytes == nil {
				f.violate("%s: [[buffer(%d)]] %s has no bytes bound", e.pso.fn.entry, p.Index, p.Name)
			}
		case roleThreadgroupMem:
			if e.tg[p.Index] == 0 {
				f.violate("%s: [[threadgroup(%d)]] has no length set", e.pso.fn.entry, p.Index)
			}
		}
	}
	e.cb.dispatches = append(e.cb.dispatches, &fdispatch{pso: e.pso, binds: maps(e.binds), tg: mapsInt(e.tg), grid: grid, threads: threads})
}

func maps(m map[int]fbind) map[int]fbind {
	c := make(map[int]fbind, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func mapsInt(m map[int]int) map[int]int {
	c := make(map[int]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// commit runs the command buffer's dispatches on the gpu (at once: the
// fake GPU is synchronous) and sets its status.
func (f *fakeRT) commit(cb *fcmdbuf) {
	if cb.encoding == nil || !cb.encoding.ended {
		f.violate("commit of a command buffer whose encoder has not ended")
	}
	if cb.status != statusNotEnqueued {
		f.violate("commit of a command buffer twice")
	}
	cb.status = statusCommitted
	if f.hang {
		return
	}
	f.clock += 0.001
	cb.start = f.clock
	for i, d := range cb.dispatches {
		if f.gpuError != "" {
			break
		}
		if f.gpu != nil {
			if err := f.gpu.run(d); err != nil {
				cb.status = statusError
				cb.err = f.newObj("NSError", &ferror{fmt.Sprintf("dispatch %d (%s): %v", i, d.pso.fn.entry, err), "MTLCommandBufferErrorDomain", 3}, 1)
				return
			}
		}
		f.dispatched++
	}
	f.clock += 0.0005 * float64(len(cb.dispatches))
	cb.end = f.clock
	if f.gpuError != "" {
		cb.status = statusError
		cb.err = f.newObj("NSError", &ferror{f.gpuError, "MTLCommandBufferErrorDomain", 2}, 1)
		f.gpuError = ""
		return
	}
	cb.status = statusCompleted
}

// live counts the live objects of a class (leak checks).
func (f *fakeRT) live(class string) int {
	n := 0
	for _, o := range f.objs {
		if o.class == class && !o.dead {
			n++
		}
	}
	return n
}
