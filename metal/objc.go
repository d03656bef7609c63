package metal

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// The Objective-C layer. Everything the backend asks of Metal goes through
// objcRuntime: the real one (darwin/arm64, objc_darwin.go) calls
// objc_msgSend through purego, tests on every platform use a fake that
// keeps Metal's objects in Go and checks every message against the table
// of messages.go (and that table against Apple's own declarations, the
// metal-cpp headers in testdata). No other file sends a message.

// id is an Objective-C object pointer (0 is nil).
type id uintptr

// sel is a registered selector.
type sel uintptr

// mtlSize is MTLSize: three NSUIntegers, passed by value (24 bytes; on
// arm64 a composite larger than 16 bytes goes by reference to a copy the
// caller makes, which purego does for a Go struct argument).
type mtlSize struct {
	Width, Height, Depth uint64
}

// msgSendSizes is the Go type of objc_msgSend for a message whose two
// arguments are MTLSize by value, as the darwin runtime registers it with
// purego (and as a test calls a C function through it on every host).
type msgSendSizes func(recv id, s sel, a, b mtlSize)

// objcRuntime is the Objective-C runtime and the C functions the backend
// calls. Messages are sent with word-sized arguments (object pointers,
// pointers, NSUInteger, NSInteger, BOOL as 0 or 1) unless their table
// entry says otherwise; see objc.send.
type objcRuntime interface {
	// class returns the named class (objc_getClass); 0 when there is none.
	class(name string) id
	// sel registers a selector (sel_registerName).
	sel(name string) sel
	// send sends a message whose arguments are words and returns x0.
	send(recv id, s sel, args ...uintptr) uintptr
	// sendSizes sends a message whose two arguments are MTLSize by value.
	sendSizes(recv id, s sel, a, b mtlSize)
	// sendDouble sends a message without arguments that returns a double.
	sendDouble(recv id, s sel) float64
	// poolPush and poolPop are objc_autoreleasePoolPush and Pop.
	poolPush() uintptr
	poolPop(pool uintptr)
	// defaultDevice is MTLCreateSystemDefaultDevice (0 without a device).
	defaultDevice() id
	// cString reads the NUL-terminated string at p (at most max bytes).
	cString(p uintptr, max int) string
	// vmRegion returns the virtual-memory region holding addr (mach's
	// region: a whole mapping), and whether it is writable; ok is false
	// when the platform cannot tell.
	vmRegion(addr uintptr) (start, size uintptr, writable, ok bool)
	// pageSize is the virtual-memory page size.
	pageSize() int
}

// objc sends the messages of the table through a runtime, with the
// selectors registered once.
type objc struct {
	rt   objcRuntime
	sels [numMsgs]sel
}

// newObjc registers every selector of the table with rt.
func newObjc(rt objcRuntime) *objc {
	o := &objc{rt: rt}
	for i := range o.sels {
		o.sels[i] = rt.sel(messages[i].sel)
	}
	return o
}

// send sends message m to recv with word arguments and returns the
// result as its kind says (a BOOL is the low byte of x0: the callee
// leaves the rest undefined). It panics when the arguments do not match
// the table: that is a defect of this package, which tests catch, never a
// condition of the input.
//
// A Go pointer passed as an argument must be converted to uintptr in the
// call expression (uintptr(unsafe.Pointer(&x))): the directive below then
// moves it to the heap and keeps it alive for the call, as for a system
// call (a stack address could move before the runtime calls out).
//
//go:uintptrescapes
func (o *objc) send(m msgID, recv id, args ...uintptr) uintptr {
	e := &messages[m]
	if len(args) != len(e.args) {
		panic(fmt.Sprintf("metal: %s takes %d arguments, sent %d", e.sel, len(e.args), len(args)))
	}
	for _, k := range e.args {
		if k == kSize || k == kDouble {
			panic("metal: " + e.sel + " has a non-word argument: use its own sender")
		}
	}
	if e.ret == kDouble || e.ret == kSize {
		panic("metal: " + e.sel + " returns a non-word result: use its own sender")
	}
	r := o.rt.send(recv, o.sels[m], args...)
	if e.ret == kBool {
		r &= 0xff
	}
	return r
}

// sendID is send for a message returning an object.
//
//go:uintptrescapes
func (o *objc) sendID(m msgID, recv id, args ...uintptr) id { return id(o.send(m, recv, args...)) }

// sendBool is send for a message returning BOOL.
//
//go:uintptrescapes
func (o *objc) sendBool(m msgID, recv id, args ...uintptr) bool { return o.send(m, recv, args...) != 0 }

// sendSizes sends a message taking two MTLSize by value.
func (o *objc) sendSizes(m msgID, recv id, a, b mtlSize) {
	e := &messages[m]
	if len(e.args) != 2 || e.args[0] != kSize || e.args[1] != kSize {
		panic("metal: " + e.sel + " does not take two MTLSize")
	}
	o.rt.sendSizes(recv, o.sels[m], a, b)
}

// sendDouble sends a message returning a double.
func (o *objc) sendDouble(m msgID, recv id) float64 {
	e := &messages[m]
	if len(e.args) != 0 || e.ret != kDouble {
		panic("metal: " + e.sel + " does not return a double")
	}
	return o.rt.sendDouble(recv, o.sels[m])
}

// boolArg is a BOOL argument.
func boolArg(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// nsUTF8 is NSUTF8StringEncoding.
const nsUTF8 = 4

// newString returns an NSString holding s (owned: release it), or an
// error when s holds a NUL byte (the C string would end there).
// initWithCString:encoding: copies the bytes before it returns.
func (o *objc) newString(s string) (id, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return 0, fmt.Errorf("metal: a string passed to Metal holds a NUL byte at %d", strings.IndexByte(s, 0))
	}
	b := append([]byte(s), 0)
	str := o.sendID(msgAlloc, o.rt.class("NSString"))
	r := o.sendID(msgInitWithCString, str, uintptr(unsafe.Pointer(&b[0])), nsUTF8)
	runtime.KeepAlive(b)
	if r == 0 {
		return 0, fmt.Errorf("metal: NSString initWithCString:encoding: returned nil for %d bytes (not UTF-8?)", len(s))
	}
	return r, nil
}

// goString returns the text of an NSString ("" for nil).
func (o *objc) goString(s id) string {
	if s == 0 {
		return ""
	}
	return o.rt.cString(o.send(msgUTF8String, s), 1<<24)
}

// errorText describes an NSError: its localized description, domain and
// code ("" for nil).
func (o *objc) errorText(e id) string {
	if e == 0 {
		return ""
	}
	desc := o.goString(o.sendID(msgLocalizedDescription, e))
	dom := o.goString(o.sendID(msgDomain, e))
	code := int64(o.send(msgCode, e))
	return fmt.Sprintf("%s (%s %d)", desc, dom, code)
}

// release releases an owned object (nothing for nil).
func (o *objc) release(x id) {
	if x != 0 {
		o.send(msgRelease, x)
	}
}
