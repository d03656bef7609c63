//go:build linux && amd64

package cuda

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvrtcLib is NVRTC loaded through purego.
type nvrtcLib struct {
	file         string
	major, minor int

	create, compileProgram, destroy, logSize, log uintptr
	cubinSize, cubin                              uintptr // 0 before CUDA 11.1
	ptxSize, ptx                                  uintptr
	errString                                     func(code int32) string
}

// loadNVRTC finds and loads NVRTC (search.go says where it looks). Failure
// is an ErrUnavailable error listing what was tried.
func loadNVRTC(env searchEnv) (*nvrtcLib, error) {
	cands := env.nvrtcCandidates()
	var tried []string
	for _, c := range cands {
		l, err := openNVRTC(c)
		if err == nil {
			return l, nil
		}
		tried = append(tried, err.Error())
		if env.getenv(EnvNVRTC) != "" {
			return nil, unavailable("%s=%s: %v", EnvNVRTC, c.name, err)
		}
	}
	return nil, unavailable("no NVRTC library (CUDA's run-time compiler) found; tried:\n  %s\n(set %s to the library's path, or CUDA_HOME to the CUDA installation)",
		strings.Join(tried, "\n  "), EnvNVRTC)
}

// openNVRTC loads one candidate and resolves its entry points.
func openNVRTC(c candidate) (*nvrtcLib, error) {
	h, err := purego.Dlopen(c.name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", c.name, err)
	}
	l := &nvrtcLib{file: c.name}
	if !c.path {
		l.file = loadedPath("libnvrtc.so")
	}
	var missing []string
	sym := func(dst *uintptr, name string, need bool) {
		p, err := purego.Dlsym(h, name)
		if err != nil || p == 0 {
			if need {
				missing = append(missing, name)
			}
			return
		}
		*dst = p
	}
	var version, errString uintptr
	sym(&version, "nvrtcVersion", true)
	sym(&l.create, "nvrtcCreateProgram", true)
	sym(&l.compileProgram, "nvrtcCompileProgram", true)
	sym(&l.destroy, "nvrtcDestroyProgram", true)
	sym(&l.logSize, "nvrtcGetProgramLogSize", true)
	sym(&l.log, "nvrtcGetProgramLog", true)
	sym(&l.ptxSize, "nvrtcGetPTXSize", true)
	sym(&l.ptx, "nvrtcGetPTX", true)
	sym(&errString, "nvrtcGetErrorString", true)
	sym(&l.cubinSize, "nvrtcGetCUBINSize", false)
	sym(&l.cubin, "nvrtcGetCUBIN", false)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: not NVRTC (lacks %s)", c.name, strings.Join(missing, ", "))
	}
	purego.RegisterFunc(&l.errString, errString)
	var maj, mnr int32
	if r, _, _ := purego.SyscallN(version, uintptr(unsafe.Pointer(&maj)), uintptr(unsafe.Pointer(&mnr))); int32(r) != 0 {
		return nil, fmt.Errorf("%s: nvrtcVersion failed (%d)", c.name, int32(r))
	}
	l.major, l.minor = int(maj), int(mnr)
	// NVRTC opens its builtins library by soname at the first compile;
	// load the matching one from the same folder so that works when the
	// folder is not on the loader path.
	if l.file != "" {
		for _, b := range builtinsFor(l.file) {
			if strings.HasPrefix(b[strings.LastIndex(b, ".so")+3:], fmt.Sprintf(".%d.%d", l.major, l.minor)) {
				purego.Dlopen(b, purego.RTLD_NOW|purego.RTLD_GLOBAL) // best effort
				break
			}
		}
	}
	return l, nil
}

// loadedPath returns the file of the mapped library whose name contains
// name, from /proc/self/maps ("" when not found).
func loadedPath(name string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && strings.Contains(fields[5], "/"+name) {
			return fields[5]
		}
	}
	return ""
}

func (l *nvrtcLib) version() (int, int) { return l.major, l.minor }

func (l *nvrtcLib) path() string { return l.file }

// check turns an nvrtcResult into nil or an *nvrtcError.
func (l *nvrtcLib) check(call string, r uintptr) error {
	code := int32(uint32(r))
	if code == 0 {
		return nil
	}
	return &nvrtcError{Call: call, Code: int(code), Text: l.errString(code)}
}

// cmem is memory outside the Go heap (mmap) for the strings and pointer
// arrays NVRTC reads.
type cmem struct {
	mem []byte
	off int
}

func newCmem(n int) (*cmem, error) {
	mem, err := syscall.Mmap(-1, 0, max(n, 1), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("cuda: mapping %d bytes for NVRTC: %w", n, err)
	}
	return &cmem{mem: mem}, nil
}

func (m *cmem) free() { syscall.Munmap(m.mem) }

// str copies s NUL-terminated and returns its address.
func (m *cmem) str(s string) uintptr {
	p := uintptr(unsafe.Pointer(&m.mem[m.off]))
	copy(m.mem[m.off:], s)
	m.mem[m.off+len(s)] = 0
	m.off += len(s) + 1
	return p
}

// ptrs stores an array of addresses (8-aligned) and returns its address.
func (m *cmem) ptrs(v []uintptr) uintptr {
	m.off = (m.off + 7) &^ 7
	p := uintptr(unsafe.Pointer(&m.mem[m.off]))
	for _, x := range v {
		*(*uintptr)(unsafe.Pointer(&m.mem[m.off])) = x
		m.off += 8
	}
	return p
}

// compile runs one NVRTC compilation (see compiler).
func (l *nvrtcLib) compile(src, name string, opts []string, headers []header, cubin bool) ([]byte, string, error) {
	if cubin && (l.cubin == 0 || l.cubinSize == 0) {
		return nil, "", &nvrtcError{Call: "nvrtcGetCUBIN", Code: -1, Text: "this NVRTC cannot emit CUBIN (CUDA 11.1 or newer needed)"}
	}
	size := len(src) + len(name) + 2 + 8*(len(opts)+2*len(headers)+3)
	for _, o := range opts {
		size += len(o) + 1
	}
	for _, h := range headers {
		size += len(h.name) + len(h.src) + 2
	}
	m, err := newCmem(size + 8)
	if err != nil {
		return nil, "", err
	}
	defer m.free()
	srcP, nameP := m.str(src), m.str(name)
	var optP, hdrP, incP []uintptr
	for _, o := range opts {
		optP = append(optP, m.str(o))
	}
	for _, h := range headers {
		hdrP = append(hdrP, m.str(h.src))
		incP = append(incP, m.str(h.name))
	}
	optsP := m.ptrs(optP)
	var hdrsP, incsP uintptr
	if len(headers) > 0 {
		hdrsP, incsP = m.ptrs(hdrP), m.ptrs(incP)
	}

	var prog uintptr
	r, _, _ := purego.SyscallN(l.create, uintptr(unsafe.Pointer(&prog)), srcP, nameP, uintptr(len(headers)), hdrsP, incsP)
	if err := l.check("nvrtcCreateProgram", r); err != nil {
		return nil, "", err
	}
	defer purego.SyscallN(l.destroy, uintptr(unsafe.Pointer(&prog)))
	r, _, _ = purego.SyscallN(l.compileProgram, prog, uintptr(len(opts)), optsP)
	cerr := l.check("nvrtcCompileProgram", r)
	log := l.programLog(prog)
	if cerr != nil {
		return nil, log, cerr
	}
	sizeFn, getFn, what := l.ptxSize, l.ptx, "PTX"
	if cubin {
		sizeFn, getFn, what = l.cubinSize, l.cubin, "CUBIN"
	}
	var n uint64
	r, _, _ = purego.SyscallN(sizeFn, prog, uintptr(unsafe.Pointer(&n)))
	if err := l.check("nvrtcGet"+what+"Size", r); err != nil {
		return nil, log, err
	}
	if n == 0 {
		return nil, log, &nvrtcError{Call: "nvrtcGet" + what, Code: -1, Text: "empty " + what}
	}
	image := make([]byte, n)
	r, _, _ = purego.SyscallN(getFn, prog, uintptr(unsafe.Pointer(&image[0])))
	if err := l.check("nvrtcGet"+what, r); err != nil {
		return nil, log, err
	}
	return image, log, nil
}

// programLog returns the program's log ("" when empty or unreadable).
func (l *nvrtcLib) programLog(prog uintptr) string {
	var n uint64
	if r, _, _ := purego.SyscallN(l.logSize, prog, uintptr(unsafe.Pointer(&n))); r != 0 || n <= 1 {
		return ""
	}
	buf := make([]byte, n)
	if r, _, _ := purego.SyscallN(l.log, prog, uintptr(unsafe.Pointer(&buf[0]))); r != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00\n")
}
