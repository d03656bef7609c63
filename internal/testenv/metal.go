package testenv

import (
	"os"
	"testing"
)

// MetalRequired reports whether METALLIC_REQUIRE_METAL=1 (set on a Mac
// that runs the metal backend's GPU tests): tests that need a Metal
// device fail instead of skipping.
func MetalRequired() bool { return os.Getenv("METALLIC_REQUIRE_METAL") == "1" }

// NeedMetal skips the test with the printed reason, or fails it when
// METALLIC_REQUIRE_METAL=1.
func NeedMetal(t testing.TB, reason string) {
	t.Helper()
	if MetalRequired() {
		t.Fatalf("Metal device required (METALLIC_REQUIRE_METAL=1) but unavailable: %s", reason)
	}
	t.Skipf("Metal device unavailable: %s", reason)
}
