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
	drv      driver
	nvrtc    compiler
	includes []string // header folders given to NVRTC (cuda_fp16.h and its cccl)
	info     deviceInfo

	mu        sync.Mutex
	modules   map[[32]byte]handle // by hash of options and source
	functions map[funcKey]handle
	fallbacks []string // modules not built the primary way, and why
}

type funcKey struct {
	module handle
	entry  string
}

func newDevice(drv driver, nvrtc compiler, includes []string) *device {
	return &device{drv: drv, nvrtc: nvrtc, includes: includes, info: drv.info(),
		modules: map[[32]byte]handle{}, functions: map[funcKey]handle{}}
}

// compileOptions returns the NVRTC options for a device of compute
// capability major.minor: a CUBIN for its own architecture (sm_XY), or PTX
// for its virtual architecture (compute_XY) when cubin is false, with the
// header folders includes. Floating point follows the plain contract:
// fused multiply-adds allowed, no fast math (IEEE division and square
// root, denormals kept).
func compileOptions(major, minor int, cubin bool, includes []string) []string {
	arch := fmt.Sprintf("sm_%d%d", major, minor)
	if !cubin {
		arch = fmt.Sprintf("compute_%d%d", major, minor)
	}
	o := []string{"--gpu-architecture=" + arch, "--std=c++17", "--fmad=true", "--ftz=false", "--prec-div=true", "--prec-sqrt=true"}
	for _, d := range includes {
		o = append(o, "--include-path="+d)
	}
	return o
}

// options returns the primary (CUBIN) options of this device.
func (d *device) options() []string {
	return compileOptions(d.info.ccMajor, d.info.ccMinor, true, d.includes)
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

// header is a header handed to NVRTC in memory.
type header struct{ name, src string }

// attempt is one way to compile: the header folders and in-memory headers.
type attempt struct {
	includes []string
	headers  []header
	note     string // how it differs from the primary way ("" for it)
}

// attempts lists the ways to compile src, first to last. A source that
// includes cuda_fp16.h depends on headers matching NVRTC (CUDA 13's
// cuda_fp16.h needs <nv/target> from include/cccl); when the toolkit's
// headers do not compile it is tried with NVRTC's built-in headers, then
// with fp16Header, the small stand-in below.
func (d *device) attempts(src string) []attempt {
	a := []attempt{{includes: d.includes}}
	if !strings.Contains(src, "cuda_fp16.h") {
		return a
	}
	if len(d.includes) > 0 {
		a = append(a, attempt{note: "compiled with NVRTC's built-in headers (the toolkit's cuda_fp16.h failed)"})
	}
	return append(a, attempt{headers: []header{{"cuda_fp16.h", fp16Header}},
		note: "compiled with metallic's minimal cuda_fp16.h (neither the toolkit's nor NVRTC's compiled)"})
}

// module compiles and loads src, or returns the cached module. The caller
// holds d.mu. A compile error of the primary way is the one reported.
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
	var first error
	for _, a := range d.attempts(src) {
		m, note, err := d.build(kernel, src, a)
		if err == nil {
			if note != "" {
				d.fallbacks = append(d.fallbacks, kernel+": "+note)
			}
			d.modules[key] = m
			return m, nil
		}
		if first == nil {
			first = err
		}
		if !isCompileError(err) {
			break // not a header problem: another way will not help
		}
	}
	return 0, first
}

// build compiles src one way into a CUBIN and loads it; when NVRTC cannot
// make a CUBIN for the device or the driver refuses it, it falls back to
// PTX for the driver's JIT. note says how the module differs from the
// primary way.
func (d *device) build(kernel, src string, a attempt) (m handle, note string, err error) {
	name := programName(kernel)
	opts := compileOptions(d.info.ccMajor, d.info.ccMinor, true, a.includes)
	image, log, err := d.nvrtc.compile(src, name, opts, a.headers, true)
	var reason string
	switch {
	case err == nil:
		if m, err = d.load(image); err == nil {
			return m, a.note, nil
		}
		reason = fmt.Sprintf("loading the %s CUBIN failed: %v", opts[0], err)
	case isCompileError(err):
		return 0, "", compileError(kernel, name, src, log, err)
	default:
		reason = fmt.Sprintf("NVRTC could not make a CUBIN: %v", err)
	}
	popts := compileOptions(d.info.ccMajor, d.info.ccMinor, false, a.includes)
	image, log, err = d.nvrtc.compile(src, name, popts, a.headers, false)
	if err != nil {
		return 0, "", compileError(kernel, name, src, log, fmt.Errorf("%s; the PTX fallback failed too: %w", reason, err))
	}
	if m, err = d.load(image); err != nil {
		return 0, "", fmt.Errorf("cuda: kernel %s: %s; loading its PTX failed too: %w", kernel, reason, err)
	}
	note = fmt.Sprintf("PTX %s for the driver's JIT (%s)", popts[0][len("--gpu-architecture="):], reason)
	if a.note != "" {
		note = a.note + "; " + note
	}
	return m, note, nil
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
	if n := len(d.fallbacks); n > 0 {
		s += fmt.Sprintf("; %d module(s) built another way (first: %s)", n, d.fallbacks[0])
	}
	return s
}

// fp16Header is a minimal cuda_fp16.h: the IEEE half type and the
// conversions generated and hand-written kernels use, through PTX cvt
// (round to nearest even), for when neither the toolkit's header nor
// NVRTC's built-in one compiles.
const fp16Header = `#pragma once
struct alignas(2) __half { unsigned short __x; };
typedef __half half;
static __device__ __forceinline__ __half __ushort_as_half(unsigned short u) { __half h; h.__x = u; return h; }
static __device__ __forceinline__ unsigned short __half_as_ushort(__half h) { return h.__x; }
static __device__ __forceinline__ float __half2float(__half h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.__x)); return f; }
static __device__ __forceinline__ __half __float2half(float f) { __half h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.__x) : "f"(f)); return h; }
static __device__ __forceinline__ __half __float2half_rn(float f) { return __float2half(f); }
`

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

// compileErr is a failed compile; it wraps NVRTC's error.
type compileErr struct {
	msg string
	err error
}

func (e *compileErr) Error() string { return e.msg }
func (e *compileErr) Unwrap() error { return e.err }

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
	return &compileErr{msg: b.String(), err: err}
}
