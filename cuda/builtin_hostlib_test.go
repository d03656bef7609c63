//go:build linux

package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// emuLib is every built-in kernel compiled for the host with clang and
// clangcheck's exact-warp runtime (HostCUDALib), loaded through purego.
type emuLib struct {
	path     string
	alloc    func(n uint64) unsafe.Pointer
	free     func(p unsafe.Pointer)
	check    func(p unsafe.Pointer) int64
	errorMsg func() string
	launch   map[string]func(gx, gy, gz, threads int32, args unsafe.Pointer) int32 // by entry
}

// emuSource returns the host translation unit of the kernels: the
// runtime, every kernel file once (in the order builtinPrefix emits them),
// then each specialization's entry stub (its source with its op's prefix
// removed, so the host compiles exactly the GPU's text) and a launcher
// L_<entry>(gx, gy, gz, threads, args) over an array of 8-byte arguments.
func emuSource() (string, error) {
	specs, ks := builtinAll()
	var b strings.Builder
	b.WriteString(clangcheck.HostCUDALib)
	b.WriteString(builtinConstants())
	for _, f := range []string{"common.cu", "weights.cu", "matmul.cu", "rows.cu", "rope.cu", "attention.cu"} {
		b.WriteString(builtinFile(f))
	}
	for i, k := range ks {
		op := builtinOps[specs[i].Name]
		stub, ok := strings.CutPrefix(k.Source, builtinPrefix(op))
		if !ok {
			return "", fmt.Errorf("%s: source does not start with its op's prefix", k.Entry)
		}
		b.WriteString(stub)
		var call []string
		for j, c := range op.sig {
			switch c {
			case 'b':
				call = append(call, fmt.Sprintf("P{a[%d]}", j))
			case 'i':
				call = append(call, fmt.Sprintf("(int)a[%d]", j))
			case 'f':
				call = append(call, fmt.Sprintf("hrt::f32(a[%d])", j))
			}
		}
		fmt.Fprintf(&b, "extern \"C\" int L_%s(int gx, int gy, int gz, int threads, const uint64_t* a) {\n"+
			"    return hrt::launch(gx, gy, gz, threads, [a] { %s(%s); });\n}\n", k.Entry, k.Entry, strings.Join(call, ", "))
	}
	return b.String(), nil
}

var (
	emuOnce sync.Once
	emuRes  *emuLib
	emuErr  error
)

// loadEmuLib compiles (or finds in the cache) and loads the host library
// once per test binary. It skips without clang, or fails under
// METALLIC_REQUIRE_ORACLES=1.
func loadEmuLib(t *testing.T) *emuLib {
	t.Helper()
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	emuOnce.Do(func() { emuRes, emuErr = buildEmuLib(clang) })
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emuRes
}

// buildEmuLib compiles the host source into a shared library cached in
// the temp dir under the hash of source and flags, then loads it.
func buildEmuLib(clang string) (*emuLib, error) {
	src, err := emuSource()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(src + strings.Join(clangcheck.HostLibFlags("", ""), " ") + clang))
	path := filepath.Join(os.TempDir(), "metallic-cudakern-"+hex.EncodeToString(sum[:8])+".so")
	if _, err := os.Stat(path); err != nil {
		dir, err := os.MkdirTemp("", "cudakern")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cpp, lib := filepath.Join(dir, "kernels.cpp"), filepath.Join(dir, "kernels.so")
		if err := os.WriteFile(cpp, []byte(src), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command(clang, clangcheck.HostLibFlags(lib, cpp)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("compiling the host kernels: %v\n%s", err, out)
		}
		if err := os.Rename(lib, path); err != nil { // atomic: concurrent test binaries see a whole file
			return nil, err
		}
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %v", path, err)
	}
	l := &emuLib{path: path, launch: map[string]func(int32, int32, int32, int32, unsafe.Pointer) int32{}}
	for name, fp := range map[string]any{"hrt_alloc": &l.alloc, "hrt_free": &l.free, "hrt_check": &l.check, "hrt_error": &l.errorMsg} {
		sym, err := purego.Dlsym(h, name)
		if err != nil {
			return nil, err
		}
		purego.RegisterFunc(fp, sym)
	}
	_, ks := builtinAll()
	for _, k := range ks {
		sym, err := purego.Dlsym(h, "L_"+k.Entry)
		if err != nil {
			return nil, err
		}
		var fn func(int32, int32, int32, int32, unsafe.Pointer) int32
		purego.RegisterFunc(&fn, sym)
		l.launch[k.Entry] = fn
	}
	return l, nil
}
