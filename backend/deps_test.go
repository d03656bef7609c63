package backend_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
)

// TestInterfaceOnly: backend is a pure interface package. Everything it
// depends on outside the standard library is gguf (weight dtypes) and
// what gguf itself needs; no implementation (cpu, ggmlnum, metal, cuda)
// may leak in, whatever the platform.
func TestInterfaceOnly(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			testenv.NeedOracle(t, "the go tool is not on PATH: "+err.Error())
		}
	}
	const self = "github.com/metallic-go/metallic/backend"
	for _, target := range [][2]string{{runtime.GOOS, runtime.GOARCH}, {"linux", "amd64"}, {"darwin", "arm64"}} {
		deps := func(pkg string) []string {
			cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
			cmd.Dir = testenv.RepoRoot(t)
			cmd.Env = append(cmd.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s (%s/%s): %v\n%s", pkg, target[0], target[1], err, out)
			}
			return strings.Fields(string(out))
		}
		allowed := map[string]bool{self: true}
		for _, p := range deps("./gguf") {
			allowed[p] = true
		}
		got := deps("./backend")
		if len(got) == 0 || got[len(got)-1] != self {
			t.Fatalf("%s/%s: go list -deps ./backend printed %q, want the package itself last", target[0], target[1], got)
		}
		for _, p := range got {
			if !allowed[p] {
				t.Errorf("%s/%s: backend depends on %s; it may import only the standard library and gguf", target[0], target[1], p)
			}
		}
	}
}
