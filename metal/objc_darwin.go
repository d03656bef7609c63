//go:build darwin && arm64

package metal

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/ebitengine/purego"
	pobjc "github.com/ebitengine/purego/objc"
)

// darwinRuntime is objcRuntime on macOS: classes and selectors through
// purego/objc, messages through objc_msgSend called by purego (word
// arguments with SyscallN; MTLSize arguments and double results through
// functions registered once, which purego marshals as the arm64 ABI
// says), and the C functions of libobjc, Metal and libSystem.
type darwinRuntime struct {
	msgSend    uintptr
	sizes      msgSendSizes
	double     func(recv id, s sel) float64
	push, pop  uintptr
	create     uintptr
	machRegion uintptr
	task       uint32
}

// Library paths: the system's, always present on macOS (the dyld shared
// cache serves them).
const (
	libobjcPath    = "/usr/lib/libobjc.A.dylib"
	metalPath      = "/System/Library/Frameworks/Metal.framework/Metal"
	foundationPath = "/System/Library/Frameworks/Foundation.framework/Foundation"
	libSystemPath  = "/usr/lib/libSystem.B.dylib"
)

// newDarwinRuntime loads the libraries and resolves every symbol, or says
// which one is missing (an ErrUnavailable error).
func newDarwinRuntime() (*darwinRuntime, error) {
	libs := map[string]uintptr{}
	for _, p := range []string{libobjcPath, metalPath, foundationPath, libSystemPath} {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			return nil, unavailable("cannot load %s: %v", p, err)
		}
		libs[p] = h
	}
	r := &darwinRuntime{}
	for _, s := range []struct {
		lib, name string
		dst       *uintptr
	}{
		{libobjcPath, "objc_msgSend", &r.msgSend},
		{libobjcPath, "objc_autoreleasePoolPush", &r.push},
		{libobjcPath, "objc_autoreleasePoolPop", &r.pop},
		{metalPath, "MTLCreateSystemDefaultDevice", &r.create},
		{libSystemPath, "mach_vm_region", &r.machRegion},
	} {
		p, err := purego.Dlsym(libs[s.lib], s.name)
		if err != nil {
			return nil, unavailable("%s has no %s: %v", s.lib, s.name, err)
		}
		*s.dst = p
	}
	task, err := purego.Dlsym(libs[libSystemPath], "mach_task_self_")
	if err != nil {
		return nil, unavailable("%s has no mach_task_self_: %v", libSystemPath, err)
	}
	r.task = *(*uint32)(ptrOf(task))
	purego.RegisterFunc(&r.sizes, r.msgSend)
	purego.RegisterFunc(&r.double, r.msgSend)
	return r, nil
}

func (r *darwinRuntime) class(name string) id { return id(pobjc.GetClass(name)) }

func (r *darwinRuntime) sel(name string) sel { return sel(pobjc.RegisterName(name)) }

func (r *darwinRuntime) send(recv id, s sel, args ...uintptr) uintptr {
	all := make([]uintptr, 0, 2+len(args))
	all = append(all, uintptr(recv), uintptr(s))
	all = append(all, args...)
	r1, _, _ := purego.SyscallN(r.msgSend, all...)
	return r1
}

func (r *darwinRuntime) sendSizes(recv id, s sel, a, b mtlSize) { r.sizes(recv, s, a, b) }

func (r *darwinRuntime) sendDouble(recv id, s sel) float64 { return r.double(recv, s) }

func (r *darwinRuntime) poolPush() uintptr {
	p, _, _ := purego.SyscallN(r.push)
	return p
}

func (r *darwinRuntime) poolPop(pool uintptr) { purego.SyscallN(r.pop, pool) }

func (r *darwinRuntime) defaultDevice() id {
	d, _, _ := purego.SyscallN(r.create)
	return id(d)
}

func (r *darwinRuntime) cString(p uintptr, max int) string {
	if p == 0 {
		return ""
	}
	n := 0
	for n < max && *(*byte)(ptrOf(p + uintptr(n))) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptrOf(p)), n))
}

// mach_vm_region's flavor and count for vm_region_basic_info_data_64_t
// (mach/vm_region.h), and VM_PROT_WRITE.
const (
	vmRegionBasicInfo64      = 9
	vmRegionBasicInfoCount64 = 9
	vmProtWrite              = 2
)

func (r *darwinRuntime) vmRegion(p uintptr) (start, size uintptr, writable, ok bool) {
	addr, sz := uint64(p), uint64(0)
	var info [vmRegionBasicInfoCount64]int32 // protection first
	count := uint32(vmRegionBasicInfoCount64)
	var object uint32
	kr, _, _ := purego.SyscallN(r.machRegion, uintptr(r.task), uintptr(unsafe.Pointer(&addr)), uintptr(unsafe.Pointer(&sz)),
		vmRegionBasicInfo64, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&count)), uintptr(unsafe.Pointer(&object)))
	if kr != 0 || addr > uint64(p) || addr+sz <= uint64(p) {
		return 0, 0, false, false
	}
	return uintptr(addr), uintptr(sz), info[0]&vmProtWrite != 0, true
}

func (r *darwinRuntime) pageSize() int { return os.Getpagesize() }

// String names the runtime in messages.
func (r *darwinRuntime) String() string {
	return fmt.Sprintf("objc runtime (objc_msgSend at %#x)", r.msgSend)
}
