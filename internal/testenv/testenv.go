// Package testenv holds what the project's tests share: the repository
// root, the stories260K path, the oracle skip-or-fail rule, and the
// llama.cpp libraries and C oracles built against them.
package testenv

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// RepoRoot walks up from the working directory to the directory holding
// go.mod; it fails the test if there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Stories is the path of testdata/stories260K.gguf.
func Stories(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "testdata", "stories260K.gguf")
}

// EnvCacheDir names the cache folder scripts/setup.sh installed into when it
// is not .cache in the checkout (make test sets it from the script's output).
const EnvCacheDir = "METALLIC_CACHE_DIR"

// CacheDir is the folder scripts/setup.sh installs the test dependencies
// into: $METALLIC_CACHE_DIR when set, else .cache under the repository root.
func CacheDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(t), ".cache")
}

// NodeModules is the npm packages folder of CacheDir.
func NodeModules(t testing.TB) string {
	t.Helper()
	return filepath.Join(CacheDir(t), "npm", "node_modules")
}

// OraclesRequired reports whether METALLIC_REQUIRE_ORACLES=1 (CI).
func OraclesRequired() bool { return os.Getenv("METALLIC_REQUIRE_ORACLES") == "1" }

// NeedOracle skips the test with the printed reason, or fails it when
// METALLIC_REQUIRE_ORACLES=1.
func NeedOracle(t testing.TB, reason string) {
	t.Helper()
	if OraclesRequired() {
		t.Fatalf("oracle required (METALLIC_REQUIRE_ORACLES=1) but unavailable: %s", reason)
	}
	t.Skipf("oracle unavailable: %s", reason)
}

// GGMLLib is the folder of the pinned llama.cpp libraries that
// scripts/setup.sh installs (linux/amd64). Without libggml-base.so there
// the test skips with the reason, or fails under METALLIC_REQUIRE_ORACLES=1.
func GGMLLib(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		NeedOracle(t, "llama.cpp's libraries are installed for linux/amd64 only, this is "+runtime.GOOS+"/"+runtime.GOARCH)
	}
	dir := filepath.Join(NodeModules(t), "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
	if _, err := os.Stat(filepath.Join(dir, "libggml-base.so")); err != nil {
		NeedOracle(t, err.Error()+" (run ./scripts/setup.sh)")
	}
	return dir
}

// CC is the first C compiler on PATH (clang, cc, gcc); without one the
// test skips (fails under METALLIC_REQUIRE_ORACLES=1).
func CC(t testing.TB) string {
	t.Helper()
	for _, c := range []string{"clang", "cc", "gcc"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	NeedOracle(t, "no C compiler (clang, cc, gcc) on PATH")
	return ""
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// BuildGGMLOracle compiles the C program src (a path relative to the
// repository root) against GGMLLib's libggml-base with the first C compiler
// found (clang, cc, gcc), once per test process, into CacheDir's oracles/
// (a temporary folder when that cannot be created), and
// returns the binary. Without a compiler or the libraries the test skips
// (fails under METALLIC_REQUIRE_ORACLES=1); a program that does not
// compile fails the test: the oracle is ours, and broken.
func BuildGGMLOracle(t testing.TB, src string) string {
	t.Helper()
	lib := GGMLLib(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[src]; ok {
		return bin
	}
	cc := CC(t)
	root := RepoRoot(t)
	code, err := os.ReadFile(filepath.Join(root, src))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(CacheDir(t), "oracles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if dir, err = os.MkdirTemp("", "metallic-oracles-"); err != nil {
			t.Fatal(err)
		}
	}
	// The binary is named by a hash of the source, the compiler and the
	// libraries, and written under a temporary name then renamed: .cache
	// may be shared by several checkouts building different versions of
	// one oracle at once.
	sum := sha256.Sum256([]byte(cc + "\x00" + lib + "\x00" + string(code)))
	bin := filepath.Join(dir, fmt.Sprintf("%s-%x", strings.TrimSuffix(filepath.Base(src), ".c"), sum[:6]))
	if _, err := os.Stat(bin); err == nil {
		built[src] = bin
		return bin
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(bin)+".tmp*")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	out, err := exec.Command(cc, "-O1", "-o", tmp.Name(), filepath.Join(root, src), "-L"+lib, "-lggml-base", "-ldl", "-Wl,-rpath,"+lib).CombinedOutput()
	if err != nil {
		t.Fatalf("the C oracle %s does not compile (%s): %v\n%s", src, cc, err, out)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		t.Fatal(err)
	}
	built[src] = bin
	return bin
}
