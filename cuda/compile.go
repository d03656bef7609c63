package cuda

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// device is one GPU with its driver and compiler, shared by every Backend
// of a process (the real one is opened once): the module cache lives here,
// so two backends (two paths in one run) compile each kernel once.
type device struct {
	drv     driver
	nvrtc   compiler
	include string // folder of cuda_fp16.h given to NVRTC ("" when none)
	info    deviceInfo

	mu        sync.Mutex
	modules   map[[32]byte]handle // by hash of options and source
	functions map[funcKey]handle
	cubins    int      // modules loaded from CUBIN
	ptx       []string // why each PTX module was not a CUBIN
}

type funcKey struct {
	module handle
	entry  string
}

func newDevice(drv driver, nvrtc compiler, include string) *device {
	return &device{drv: drv, nvrtc: nvrtc, include: include, info: drv.info(),
		modules: map[[32]byte]handle{}, functions: map[funcKey]handle{}}
}

// compileOptions returns the NVRTC options for a device of compute
// capability major.minor: a CUBIN for its own architecture (sm_XY), or PTX
// for its virtual architecture (compute_XY) when cubin is false. Floating
// point follows the plain contract: fused multiply-adds allowed, no fast
// math (IEEE division and square root, denormals kept).
func compileOptions(major, minor int, cubin bool, include string) []string {
	arch := fmt.Sprintf("sm_%d%d", major, minor)
	if !cubin {
		arch = fmt.Sprintf("compute_%d%d", major, minor)
	}
	o := []string{"--gpu-architecture=" + arch, "--std=c++17", "--fmad=true", "--ftz=false", "--prec-div=true", "--prec-sqrt=true"}
	if include != "" {
		o = append(o, "--include-path="+include)
	}
	return o
}

// options returns the CUBIN options of this device.
func (d *device) options() []string {
	return compileOptions(d.info.ccMajor, d.info.ccMinor, true, d.include)
}

// function returns entry of src compiled for the device, compiling and
// loading the module once per process. kernel names the kernel in errors.
func (d *device) function(kernel, src, entry string) (handle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	mod, err := d.module(kernel, src)
	if err != nil {
		return 0, err
	}
	fk := funcKey{mod, entry}
	if f, ok := d.functions[fk]; ok {
		return f, nil
	}
	var f handle
	err = d.drv.run(func() error {
		var err error
		f, err = d.drv.function(mod, entry)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cuda: kernel %s: entry %q: %w", kernel, entry, err)
	}
	d.functions[fk] = f
	return f, nil
}

// module compiles and loads src, or returns the cached module. The caller
// holds d.mu.
func (d *device) module(kernel, src string) (handle, error) {
	opts := d.options()
	h := sha256.New()
	for _, o := range opts {
		h.Write([]byte(o))
		h.Write([]byte{0})
	}
	h.Write([]byte(src))
	var key [32]byte
	h.Sum(key[:0])
	if m, ok := d.modules[key]; ok {
		return m, nil
	}
	name := programName(kernel)
	image, log, err := d.nvrtc.compile(src, name, opts, true)
	var reason string
	var m handle
	switch {
	case err == nil:
		m, err = d.load(image)
		if err == nil {
			d.cubins++
			break
		}
		reason = fmt.Sprintf("loading the %s CUBIN failed: %v", opts[0], err)
	case isCompileError(err):
		return 0, compileError(kernel, name, src, log, err)
	default:
		reason = fmt.Sprintf("NVRTC could not make a CUBIN: %v", err)
	}
	if m == 0 {
		popts := compileOptions(d.info.ccMajor, d.info.ccMinor, false, d.include)
		image, log, err = d.nvrtc.compile(src, name, popts, false)
		if err != nil {
			return 0, compileError(kernel, name, src, log, fmt.Errorf("%s; the PTX fallback failed too: %w", reason, err))
		}
		if m, err = d.load(image); err != nil {
			return 0, fmt.Errorf("cuda: kernel %s: %s; loading its PTX failed too: %w", kernel, reason, err)
		}
		d.ptx = append(d.ptx, kernel+": "+reason)
	}
	d.modules[key] = m
	return m, nil
}

func (d *device) load(image []byte) (handle, error) {
	var m handle
	err := d.drv.run(func() error {
		var err error
		m, err = d.drv.loadModule(image)
		return err
	})
	return m, err
}

// code describes the code the device runs, for Provenance.
func (d *device) code() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := fmt.Sprintf("cubin sm_%d%d", d.info.ccMajor, d.info.ccMinor)
	if n := len(d.ptx); n > 0 {
		s += fmt.Sprintf("; %d module(s) as PTX compute_%d%d for the driver's JIT (first: %s)", n, d.info.ccMajor, d.info.ccMinor, d.ptx[0])
	}
	return s
}

// programName is the NVRTC program name of a kernel: the kernel's name as
// a file name, which is how the NVRTC log refers to lines.
func programName(kernel string) string {
	var b strings.Builder
	for _, r := range kernel {
		if r == '_' || r == '-' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		b.WriteString("kernel")
	}
	return b.String() + ".cu"
}

func isCompileError(err error) bool {
	var ne *nvrtcError
	return errors.As(err, &ne) && ne.Code == nvrtcCompilation
}

// logLine matches NVRTC's "prog.cu(12): error: …" diagnostics.
var logLine = regexp.MustCompile(`\((\d+)\): (?:catastrophic )?error`)

// compileError formats a failed compile: the kernel, the failing source
// lines the log points at, and NVRTC's whole program log.
func compileError(kernel, program, src, log string, err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cuda: compiling kernel %s (%s): %v", kernel, program, err)
	lines := strings.Split(src, "\n")
	seen := map[int]bool{}
	for _, m := range logLine.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		if seen[n] || n < 1 || n > len(lines) || len(seen) == 5 {
			continue
		}
		seen[n] = true
		fmt.Fprintf(&b, "\n  line %d: %s", n, strings.TrimSpace(lines[n-1]))
	}
	if log = strings.TrimSpace(log); log != "" {
		b.WriteString("\nNVRTC log:\n" + log)
	}
	return errors.New(b.String())
}
