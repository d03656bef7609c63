package metal

import (
	"fmt"
	"strings"
	"unsafe"
)

// fakeRT is objcRuntime for tests: Metal's objects kept in Go. It checks
// every message the backend sends the way Metal and the Objective-C
// runtime would fail on it, and records a violation instead of crashing:
// the selector must be in the table of msgs.go and registered, the
// receiver alive and of the class the table names, the arguments as many
// as the table says (objects alive, BOOLs 0 or 1), every message sent
// inside an autorelease pool pushed on the same OS thread, pools popped in
// order, autoreleased objects dead once their pool drains, owned objects
// dead once released. A gpu, when set, executes the command buffers;
// without one they complete without running.
type fakeRT struct {
	objs     map[id]*fobj
	next     id
	selNames map[sel]string
	selIDs   map[string]sel
	classes  map[string]id
	pools    []*fpool
	clock    float64

	// Knobs.
	page       int
	noDevice   bool
	family     int  // the highest Apple GPU family supported (default 1009)
	width      int  // pipelines' threadExecutionWidth (default 32)
	maxThreads int  // pipelines' maxTotalThreadsPerThreadgroup (default 1024)
	noMathMode bool // MTLCompileOptions without setMathMode: (before macOS 15)
	compileLog string
	failPipe   string
	failAlloc  bool
	failNoCopy bool
	gpuError   string // the next command buffer ends in error
	hang       bool   // command buffers never complete
	region     func(addr uintptr) (start, size uintptr, writable, ok bool)
	gpu        fakeGPU

	// What happened.
	sent       []string
	violations []string
	dispatched int
}

// fakeGPU executes dispatches for fakeRT (hostgpu_test.go runs them on the
// host).
type fakeGPU interface {
	// alloc returns n bytes of device memory (zeroed) and its address.
	alloc(n int) (uintptr, error)
	free(p uintptr)
	// prepare readies the kernel entry of src (compiles it for the host).
	prepare(src, entry string) error
	// run executes one dispatch.
	run(d *fdispatch) error
}

type fobj struct {
	class string // "MTLDevice", "Class:NSString", …
	refs  int
	dead  bool
	v     any
}

type fpool struct {
	tid  int
	objs []id
	keep [][]byte // C strings handed out (UTF8String)
}

type fbuffer struct {
	ptr    uintptr
	n      int
	noCopy bool
	mem    []byte // Go memory behind ptr (kept alive), nil when the gpu owns it
}

type flibrary struct{ src string }

type ffunction struct {
	src, entry string
	k          mslKernel
}

type fpipeline struct {
	fn         *ffunction
	maxThreads int
	width      int
}

type foptions struct {
	lang     uint64
	fastOff  bool
	mathSafe bool
}

type fcmdbuf struct {
	status     int
	dispatches []*fdispatch
	err        id
	encoding   *fencoder
	start, end float64
}

type fencoder struct {
	cb    *fcmdbuf
	pso   *fpipeline
	binds map[int]fbind
	tg    map[int]int
	ended bool
}

// fbind is one binding as an encoder holds it.
type fbind struct {
	buf   *fbuffer
	off   int
	bytes []byte
}

// fdispatch is one dispatch as the GPU runs it.
type fdispatch struct {
	pso     *fpipeline
	binds   map[int]fbind
	tg      map[int]int
	grid    mtlSize
	threads mtlSize
}

type ferror struct {
	desc, domain string
	code         int64
}

func newFakeRT() *fakeRT {
	f := &fakeRT{objs: map[id]*fobj{}, next: 0x1000, selNames: map[sel]string{}, selIDs: map[string]sel{}, classes: map[string]id{},
		page: 16384, family: 1009, width: 32, maxThreads: 1024}
	for _, c := range []string{"NSString", "MTLCompileOptions", "NSProcessInfo"} {
		f.classes[c] = f.newObj("Class:"+c, nil, 1<<30)
	}
	f.newObj("NSProcessInfo", nil, 1<<30) // the singleton, next to its class
	return f
}

func (f *fakeRT) violate(format string, args ...any) {
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
}

func (f *fakeRT) newObj(class string, v any, refs int) id {
	f.next += 16
	f.objs[f.next] = &fobj{class: class, refs: refs, v: v}
	return f.next
}

// autoreleased returns a new object owned by the current pool.
func (f *fakeRT) autoreleased(class string, v any) id {
	x := f.newObj(class, v, 1)
	if len(f.pools) > 0 {
		p := f.pools[len(f.pools)-1]
		p.objs = append(p.objs, x)
	}
	return x
}

func (f *fakeRT) obj(x id) *fobj {
	o := f.objs[x]
	if o == nil || o.dead {
		return nil
	}
	return o
}

func (f *fakeRT) class(name string) id { return f.classes[name] }

func (f *fakeRT) sel(name string) sel {
	if s, ok := f.selIDs[name]; ok {
		return s
	}
	s := sel(len(f.selIDs) + 1)
	f.selIDs[name], f.selNames[s] = s, name
	return s
}

// classOK reports whether an object of fake class c may receive a message
// of metal-cpp class mc.
func classOK(mc, c string) bool {
	switch mc {
	case "NS::Object", "NS::Referencing":
		return !strings.HasPrefix(c, "Class:") || mc == "NS::Object"
	case "MTL::CommandEncoder":
		return c == "MTLComputeCommandEncoder"
	}
	want := strings.ReplaceAll(mc, "::", "")
	want = strings.TrimPrefix(want, "MTL")
	want = strings.TrimPrefix(want, "NS")
	return strings.TrimPrefix(strings.TrimPrefix(c, "MTL"), "NS") == want
}

// check validates one message and returns its table entry (nil after a
// violation).
func (f *fakeRT) check(recv id, s sel, nargs int, args []uintptr) *message {
	name, ok := f.selNames[s]
	if !ok {
		f.violate("message with an unregistered selector %#x", s)
		return nil
	}
	f.sent = append(f.sent, name)
	var m *message
	for i := range messages {
		if messages[i].sel == name {
			m = &messages[i]
		}
	}
	if m == nil {
		f.violate("%s is not in the message table", name)
		return nil
	}
	if len(f.pools) == 0 {
		f.violate("%s sent outside an autorelease pool", name)
	} else if tid := gettid(); tid >= 0 && f.pools[len(f.pools)-1].tid != tid {
		f.violate("%s sent on thread %d, the autorelease pool was pushed on thread %d", name, tid, f.pools[len(f.pools)-1].tid)
	}
	o := f.objs[recv]
	switch {
	case o == nil:
		f.violate("%s sent to an unknown object %#x", name, recv)
		return nil
	case o.dead:
		f.violate("%s sent to a deallocated %s", name, o.class)
		return nil
	case m.classMethod != strings.HasPrefix(o.class, "Class:"):
		f.violate("%s sent to %s (class method: %v)", name, o.class, m.classMethod)
		return nil
	case !m.classMethod && !classOK(m.class, o.class):
		f.violate("%s (a %s method) sent to a %s", name, m.class, o.class)
		return nil
	case nargs != len(m.args):
		f.violate("%s sent with %d arguments, takes %d", name, nargs, len(m.args))
		return nil
	}
	for i, a := range args {
		switch m.args[i] {
		case kID:
			if a != 0 && f.obj(id(a)) == nil {
				f.violate("%s argument %d: not a live object (%#x)", name, i, a)
			}
		case kBool:
			if a > 1 {
				f.violate("%s argument %d: BOOL %d", name, i, a)
			}
		}
	}
	return m
}

func (f *fakeRT) send(recv id, s sel, args ...uintptr) uintptr {
	m := f.check(recv, s, len(args), args)
	if m == nil {
		return 0
	}
	r := f.handle(m.sel, recv, args)
	if m.ret == kBool {
		r |= 0xa5a5_0000 // the callee leaves the upper bits undefined
	}
	return r
}

func (f *fakeRT) sendSizes(recv id, s sel, a, b mtlSize) {
	if m := f.check(recv, s, 2, nil); m != nil {
		f.dispatch(recv, a, b)
	}
}

func (f *fakeRT) sendDouble(recv id, s sel) float64 {
	m := f.check(recv, s, 0, nil)
	if m == nil {
		return 0
	}
	cb := f.objs[recv].v.(*fcmdbuf)
	if m.sel == "GPUStartTime" {
		return cb.start
	}
	return cb.end
}

func (f *fakeRT) poolPush() uintptr {
	f.pools = append(f.pools, &fpool{tid: gettid()})
	return uintptr(len(f.pools))
}

func (f *fakeRT) poolPop(token uintptr) {
	if int(token) != len(f.pools) {
		f.violate("autorelease pool %d popped while %d are pushed", token, len(f.pools))
		return
	}
	p := f.pools[len(f.pools)-1]
	if tid := gettid(); tid >= 0 && p.tid != tid {
		f.violate("autorelease pool pushed on thread %d popped on thread %d", p.tid, tid)
	}
	f.pools = f.pools[:len(f.pools)-1]
	for _, x := range p.objs {
		f.releaseObj(x)
	}
}

func (f *fakeRT) releaseObj(x id) {
	o := f.objs[x]
	if o == nil || o.dead {
		f.violate("release of a deallocated object %#x", x)
		return
	}
	if o.refs--; o.refs == 0 {
		o.dead = true
		if b, ok := o.v.(*fbuffer); ok && b.mem == nil && !b.noCopy && f.gpu != nil {
			f.gpu.free(b.ptr)
		}
	}
}

func (f *fakeRT) defaultDevice() id {
	if f.noDevice {
		return 0
	}
	return f.newObj("MTLDevice", nil, 1)
}

func (f *fakeRT) cString(p uintptr, max int) string {
	if p == 0 {
		return ""
	}
	n := 0
	for n < max && *(*byte)(ptrOf(p + uintptr(n))) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptrOf(p)), n))
}

func (f *fakeRT) vmRegion(addr uintptr) (start, size uintptr, writable, ok bool) {
	if f.region == nil {
		return 0, 0, false, false
	}
	return f.region(addr)
}

func (f *fakeRT) pageSize() int { return f.page }

// newString returns an autoreleased NSString.
func (f *fakeRT) newString(s string) id { return f.autoreleased("NSString", s) }

// newError returns an autoreleased NSError.
func (f *fakeRT) newError(desc, domain string, code int64) id {
	return f.autoreleased("NSError", &ferror{desc, domain, code})
}
