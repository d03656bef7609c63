//go:build linux && amd64

package metal

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// TestMTLSizeThroughPurego calls a C function taking (self, _cmd, MTLSize,
// MTLSize) through purego with msgSendSizes, the Go type the darwin runtime
// registers for dispatchThreadgroups:threadsPerThreadgroup:, on this host:
// purego marshals the Go mtlSize as the C struct, every field in place.
// (On this host's ABI the structs travel on the stack; on arm64 by
// reference, see TestMTLSizeByReferenceOnArm64.)
func TestMTLSizeThroughPurego(t *testing.T) {
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	dir := t.TempDir()
	src, lib := filepath.Join(dir, "size.c"), filepath.Join(dir, "libsize.so")
	code := `typedef struct { unsigned long width, height, depth; } MTLSize;
static unsigned long seen[8];
void method(unsigned long self, unsigned long cmd, MTLSize grid, MTLSize group) {
    seen[0] = self; seen[1] = cmd;
    seen[2] = grid.width; seen[3] = grid.height; seen[4] = grid.depth;
    seen[5] = group.width; seen[6] = group.height; seen[7] = group.depth;
}
unsigned long get(int i) { return seen[i]; }
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-x", "c", "-O1", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	var sizes msgSendSizes
	var get func(int32) uint64
	purego.RegisterLibFunc(&sizes, h, "method")
	purego.RegisterLibFunc(&get, h, "get")
	sizes(0x1234, 0x5678, mtlSize{1 << 40, 2, 3}, mtlSize{128, 1, 7})
	want := []uint64{0x1234, 0x5678, 1 << 40, 2, 3, 128, 1, 7}
	for i, w := range want {
		if g := get(int32(i)); g != w {
			t.Errorf("argument word %d: the callee saw %d, want %d", i, g, w)
		}
	}
}
