package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
)

// hostLaunch is one kernel dispatch to run on the host.
type hostLaunch struct {
	k    *Kernel
	grid backend.Grid
	args []backend.Arg
}

// runHost runs the launches' sources of dialect d on the host and returns,
// per launch, the bytes of every output buffer argument by index.
func runHost(t *testing.T, d Dialect, launches []hostLaunch) []map[int][]byte {
	t.Helper()
	requireClang(t) // skips without clang, fails under METALLIC_REQUIRE_ORACLES=1
	clang, err := clangcheck.Clang()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var src, body strings.Builder
	if d == CUDA {
		src.WriteString(clangcheck.HostCUDA)
	} else {
		src.WriteString(clangcheck.HostMSL)
	}
	for i, l := range launches {
		code := strings.Replace(l.k.CUDA, "#include <cuda_fp16.h>\n", "", 1)
		if d == MSL {
			code = strings.Replace(l.k.MSL, "#include <metal_stdlib>\n", "", 1)
		}
		code = strings.ReplaceAll(code, "extern \"C\" ", "")
		fmt.Fprintf(&src, "namespace k%d {\n%s}\n", i, code)
		var call []string
		for _, a := range l.k.Args {
			v := l.args[a.Index]
			switch a.Kind {
			case ArgBuffer:
				file := filepath.Join(dir, fmt.Sprintf("b%d_%d", i, a.Index))
				if err := os.WriteFile(file, v.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&body, "    auto b%d_%d = load(%q);\n", i, a.Index, file)
				call = append(call, fmt.Sprintf("P{b%d_%d.data()}", i, a.Index))
			case ArgInt:
				call = append(call, strconv.Itoa(v.I))
			default:
				call = append(call, strconv.FormatFloat(float64(v.F), 'x', -1, 32)+"f")
			}
		}
		if d == MSL {
			call = append(call, "MSLPosition()", "MSLThread()")
		}
		fmt.Fprintf(&body, "    launch(%d, %d, %d, [&] { k%d::%s(%s); });\n", max(l.grid.X, 1), max(l.grid.Y, 1),
			l.k.Preset.Threads, i, l.k.Entry, strings.Join(call, ", "))
		for _, a := range l.k.Args {
			if a.Kind == ArgBuffer && a.Output {
				fmt.Fprintf(&body, "    save(%q, b%d_%d);\n", filepath.Join(dir, fmt.Sprintf("o%d_%d", i, a.Index)), i, a.Index)
			}
		}
	}
	src.WriteString("int main() {\n" + body.String() + "    return 0;\n}\n")
	cpp, bin := filepath.Join(dir, "host.cpp"), filepath.Join(dir, "host")
	if err := os.WriteFile(cpp, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, clangcheck.HostFlagsQuick(bin, cpp)...).CombinedOutput(); err != nil {
		t.Fatalf("compiling host %s: %v\n%s", d, err, out)
	}
	if out, err := exec.Command(bin).CombinedOutput(); err != nil {
		t.Fatalf("running host %s: %v\n%s", d, err, out)
	}
	res := make([]map[int][]byte, len(launches))
	for i, l := range launches {
		res[i] = map[int][]byte{}
		for _, a := range l.k.Args {
			if a.Kind == ArgBuffer && a.Output {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("o%d_%d", i, a.Index)))
				if err != nil {
					t.Fatal(err)
				}
				res[i][a.Index] = b
			}
		}
	}
	return res
}
