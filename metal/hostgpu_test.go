//go:build linux

package metal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// hostGPU is the fake runtime's GPU on Linux: every MSL kernel the
// backend compiles is built for the host with clang over clangcheck's
// HostMSLLib (threads emulated as coroutines, exact per SIMD group) into
// a shared library loaded through purego, and every dispatch runs the
// kernel's own text there. Buffers are the library's guarded memory: a
// read past a buffer's end faults (guard page), a write outside it is
// found in its red zone, and a write into a buffer bound to a const
// parameter is found by comparing it with its bytes before the launch;
// each fails the command buffer as a GPU fault would.
type hostGPU struct {
	clang string
	rt    *hostRuntime              // the built-in kernels' library (its allocator serves every buffer)
	libs  map[[32]byte]*hostRuntime // composed kernels, by source
	live  map[uintptr]int           // buffers: address → size
	args  unsafe.Pointer            // 32 8-byte launch arguments, C memory
	runs  int
}

// hostRuntime is one compiled host library.
type hostRuntime struct {
	alloc    func(n uint64) unsafe.Pointer
	free     func(p unsafe.Pointer)
	check    func(p unsafe.Pointer) int64
	errorMsg func() string
	tgmem    func(n uint64) int32
	launch   map[string]func(gx, gy, gz, threads int32, args unsafe.Pointer) int32
	size     map[string]func(i int32) uint64
	kernels  map[string]mslKernel
	src      map[string]string // entry → the source Metal was given
}

var (
	builtinLibOnce sync.Once
	builtinLib     *hostRuntime
	builtinLibErr  error
)

// newHostGPU returns a GPU over the built-in kernels' host library, built
// once per test binary. Without clang it skips (fails under
// METALLIC_REQUIRE_ORACLES=1).
func newHostGPU(t testing.TB) *hostGPU {
	t.Helper()
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	g, err := openHostGPU()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	return g
}

// openHostGPU returns a GPU over the built-in kernels' host library, or
// why there is none (no clang, a kernel the host cannot compile).
func openHostGPU() (*hostGPU, error) {
	clang, err := clangcheck.Clang()
	if err != nil {
		return nil, err
	}
	builtinLibOnce.Do(func() { builtinLib, builtinLibErr = buildBuiltinLib(clang) })
	if builtinLibErr != nil {
		return nil, builtinLibErr
	}
	g := &hostGPU{clang: clang, rt: builtinLib, libs: map[[32]byte]*hostRuntime{}, live: map[uintptr]int{}}
	g.args = builtinLib.alloc(8 * 32)
	return g, nil
}

// close frees the GPU's launch arguments.
func (g *hostGPU) close() { g.rt.free(g.args) }

// hostLauncher is the C++ launcher of kernel k: L_<entry>(gx, gy, gz,
// threads, a) runs it over a grid with a[i] the address bound at
// [[buffer(i)]]; Z_<entry>(i) is the size of the value a [[buffer(i)]]
// reference takes (0 for a pointer).
func hostLauncher(k mslKernel) (string, error) {
	var call, sizes []string
	for _, p := range k.Params {
		switch p.Role {
		case roleBuffer:
			call = append(call, fmt.Sprintf("P{a[%d]}", p.Index))
		case roleBytes:
			call = append(call, fmt.Sprintf("*(const %s*)(uintptr_t)a[%d]", p.Elem, p.Index))
			sizes = append(sizes, fmt.Sprintf("if (i == %d) return sizeof(%s);", p.Index, p.Elem))
		case roleThreadgroupMem:
			call = append(call, fmt.Sprintf("(%s*)hrt::tgmem()", p.Elem))
		case roleBuiltin:
			v := map[string]string{"threadgroup_position_in_grid": "hrt::tg()", "thread_index_in_threadgroup": "hrt::tid()",
				"threads_per_threadgroup": "hrt::ntg()"}[p.Attr]
			if v == "" {
				return "", fmt.Errorf("kernel %s: the host runtime has no [[%s]]", k.Name, p.Attr)
			}
			if p.Type != "uint3" && v != "hrt::tid()" {
				v += ".x"
			}
			call = append(call, v)
		}
	}
	return fmt.Sprintf("extern \"C\" int L_%s(int gx, int gy, int gz, int threads, const uint64_t* a) {\n"+
		"    return hrt::launch(gx, gy, gz, threads, [a] { hrt::tg_begin(); %s(%s); });\n}\n"+
		"extern \"C\" uint64_t Z_%s(int i) { %s return 0; }\n",
		k.Name, k.Name, strings.Join(call, ", "), k.Name, strings.Join(sizes, " ")), nil
}

// buildBuiltinLib compiles every built-in specialization into one host
// library: the runtime, the launch constants and every kernel file once,
// then each entry (its source with the op's prefix removed, so the host
// compiles exactly the text Metal is given) and its launcher.
func buildBuiltinLib(clang string) (*hostRuntime, error) {
	specs, ks := builtinAll()
	var b strings.Builder
	b.WriteString(clangcheck.HostMSLLib)
	b.WriteString(builtinConstants())
	for _, f := range []string{"common.metal", "weights.metal", "matmul.metal", "rows.metal", "rope.metal", "attention.metal"} {
		b.WriteString(builtinFile(f))
	}
	kernels, srcs := map[string]mslKernel{}, map[string]string{}
	for i, k := range ks {
		stub, ok := strings.CutPrefix(k.Source, builtinPrefix(builtinOps[specs[i].Name]))
		if !ok {
			return nil, fmt.Errorf("%s: source does not start with its op's prefix", k.Entry)
		}
		b.WriteString(clangcheck.MSLAttributes(stub))
		sig, err := parseKernel(k.Source, k.Entry)
		if err != nil {
			return nil, err
		}
		l, err := hostLauncher(sig)
		if err != nil {
			return nil, err
		}
		b.WriteString(l)
		kernels[k.Entry], srcs[k.Entry] = sig, k.Source
	}
	return buildHostLib(clang, "builtin", b.String(), nil, kernels, srcs)
}

// buildHostLib compiles a host translation unit into a shared library
// cached in the temp folder under the hash of source, flags and compiler,
// and loads it. extra flags follow clangcheck.HostLibFlags (a later -O
// wins).
func buildHostLib(clang, name, src string, extra []string, kernels map[string]mslKernel, srcs map[string]string) (*hostRuntime, error) {
	flags := func(lib, cpp string) []string { return append(clangcheck.HostLibFlags(lib, cpp), extra...) }
	sum := sha256.Sum256([]byte(src + strings.Join(flags("", ""), " ") + clang))
	path := filepath.Join(os.TempDir(), "metallic-metal-"+name+"-"+hex.EncodeToString(sum[:8])+".so")
	if _, err := os.Stat(path); err != nil {
		dir, err := os.MkdirTemp("", "metalhost")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cpp, lib := filepath.Join(dir, "kernels.cpp"), filepath.Join(dir, "kernels.so")
		if err := os.WriteFile(cpp, []byte(src), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command(clang, flags(lib, cpp)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("compiling the host kernels: %v\n%s", err, firstLines(string(out), 40))
		}
		if err := os.Rename(lib, path); err != nil { // atomic: concurrent test binaries see a whole file
			return nil, err
		}
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %v", path, err)
	}
	r := &hostRuntime{launch: map[string]func(int32, int32, int32, int32, unsafe.Pointer) int32{},
		size: map[string]func(int32) uint64{}, kernels: kernels, src: srcs}
	for sym, fp := range map[string]any{"hrt_alloc": &r.alloc, "hrt_free": &r.free, "hrt_check": &r.check, "hrt_error": &r.errorMsg, "hrt_msl_tgmem": &r.tgmem} {
		p, err := purego.Dlsym(h, sym)
		if err != nil {
			return nil, err
		}
		purego.RegisterFunc(fp, p)
	}
	for entry := range kernels {
		var l func(int32, int32, int32, int32, unsafe.Pointer) int32
		var z func(int32) uint64
		for sym, fp := range map[string]any{"L_" + entry: &l, "Z_" + entry: &z} {
			p, err := purego.Dlsym(h, sym)
			if err != nil {
				return nil, err
			}
			purego.RegisterFunc(fp, p)
		}
		r.launch[entry], r.size[entry] = l, z
	}
	return r, nil
}

// redZone checks the guard bytes around a buffer of the host library's
// allocator (HostCUDALib's layout: the buffer ends within 16 bytes of a
// guard page, behind a red zone of 0xa5 bytes): the 64 bytes before it
// and the slack after it, where a kernel that overruns or underruns it
// writes first. (hrt_check scans every byte of the mapping; this is what
// keeps a model's thousands of dispatches fast.)
func redZone(p uintptr, n int) error {
	before := unsafe.Slice((*byte)(ptrOf(p-64)), 64)
	end := (p + uintptr(n) + 15) &^ 15
	after := unsafe.Slice((*byte)(ptrOf(p+uintptr(n))), int(end-p-uintptr(n)))
	for i, c := range before {
		if c != 0xa5 {
			return fmt.Errorf("wrote byte %d before a buffer of %d bytes", 64-i, n)
		}
	}
	for i, c := range after {
		if c != 0xa5 {
			return fmt.Errorf("wrote byte %d of a buffer of %d bytes", n+i, n)
		}
	}
	return nil
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines[n] = "…"
	}
	return strings.Join(lines, "\n")
}

func (g *hostGPU) alloc(n int) (uintptr, error) {
	p := g.rt.alloc(uint64(n))
	if p == nil {
		return 0, errors.New("host GPU: out of memory")
	}
	g.live[uintptr(p)] = n
	return uintptr(p), nil
}

func (g *hostGPU) free(p uintptr) {
	delete(g.live, p)
	g.rt.free(ptrOf(p))
}

// runtimeFor returns the library that holds entry of src: the built-in
// library when src is exactly a built-in kernel's source, else a library
// compiled from src (cached per source).
func (g *hostGPU) runtimeFor(src, entry string) (*hostRuntime, error) {
	if s, ok := g.rt.src[entry]; ok && s == src {
		return g.rt, nil
	}
	key := sha256.Sum256([]byte(src + "\x00" + entry))
	if r, ok := g.libs[key]; ok {
		return r, nil
	}
	k, err := parseKernel(src, entry)
	if err != nil {
		return nil, err
	}
	l, err := hostLauncher(k)
	if err != nil {
		return nil, err
	}
	body := strings.Replace(src, "#include <metal_stdlib>\n", "", 1)
	tu := "#define HRT_MSL_STATIC_THREADGROUP\n" + clangcheck.HostMSLLib + clangcheck.MSLAttributes(body) + l
	// One kernel per library: -O1 costs little to compile and runs a
	// model's dispatches several times faster than HostLibFlags' -O0.
	r, err := buildHostLib(g.clang, "composed", tu, []string{"-O1"}, map[string]mslKernel{entry: k}, map[string]string{entry: src})
	if err != nil {
		return nil, err
	}
	g.libs[key] = r
	return r, nil
}

func (g *hostGPU) prepare(src, entry string) error {
	_, err := g.runtimeFor(src, entry)
	return err
}

// run executes one dispatch: the arguments at their binding indices, the
// threadgroup memory, the launch, then the guards of every buffer.
func (g *hostGPU) run(d *fdispatch) error {
	fn := d.pso.fn
	r, err := g.runtimeFor(fn.src, fn.entry)
	if err != nil {
		return err
	}
	k := r.kernels[fn.entry]
	args := unsafe.Slice((*uint64)(g.args), 32)
	type constBuf struct {
		name string
		p    uintptr
		snap []byte
	}
	var consts []constBuf
	tg := 0
	written := map[*fbuffer]bool{} // buffers bound to a non-const parameter (in-place ops)
	for _, p := range k.Params {
		if p.Role == roleBuffer && !strings.Contains(p.Type, "const") {
			written[d.binds[p.Index].buf] = true
		}
	}
	for _, p := range k.Params {
		switch p.Role {
		case roleBuffer:
			bd := d.binds[p.Index]
			addr := bd.buf.ptr + uintptr(bd.off)
			args[p.Index] = uint64(addr)
			if strings.Contains(p.Type, "const") && !written[bd.buf] && bd.off < bd.buf.n {
				consts = append(consts, constBuf{p.Name, addr, bytes.Clone(unsafe.Slice((*byte)(ptrOf(addr)), bd.buf.n-bd.off))})
			}
		case roleBytes:
			bd := d.binds[p.Index]
			if want := r.size[fn.entry](int32(p.Index)); uint64(len(bd.bytes)) != want {
				return fmt.Errorf("[[buffer(%d)]] %s is a %d-byte %s, setBytes gave %d bytes", p.Index, p.Name, want, p.Elem, len(bd.bytes))
			}
			args[p.Index] = uint64(uintptr(unsafe.Pointer(&bd.bytes[0])))
		case roleThreadgroupMem:
			tg = d.tg[p.Index]
		}
	}
	if rc := r.tgmem(uint64(tg)); rc != 0 {
		return errors.New("host GPU: no memory for threadgroup memory")
	}
	rc := r.launch[fn.entry](int32(d.grid.Width), int32(d.grid.Height), int32(d.grid.Depth), int32(d.threads.Width), g.args)
	runtime.KeepAlive(d)
	if rc != 0 {
		return fmt.Errorf("grid %v threads %v: %s", d.grid, d.threads.Width, r.errorMsg())
	}
	g.runs++
	for _, p := range k.Params {
		if p.Role != roleBuffer {
			continue
		}
		if b := d.binds[p.Index].buf; g.live[b.ptr] > 0 {
			if err := redZone(b.ptr, b.n); err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
	}
	for _, c := range consts {
		if !bytes.Equal(c.snap, unsafe.Slice((*byte)(ptrOf(c.p)), len(c.snap))) {
			return fmt.Errorf("wrote into %s, a const parameter", c.name)
		}
	}
	return nil
}
