// Package testenv holds what the project's tests share: the repository
// root, the stories260K path, and the oracle skip-or-fail rule.
package testenv

import (
	"os"
	"path/filepath"
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
