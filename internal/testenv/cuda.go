package testenv

import (
	"os"
	"testing"
)

// CUDARequired reports whether METALLIC_REQUIRE_CUDA=1 (set on the GPU
// machine): tests that need a CUDA GPU fail instead of skipping.
func CUDARequired() bool { return os.Getenv("METALLIC_REQUIRE_CUDA") == "1" }

// NeedCUDA skips the test with the printed reason, or fails it when
// METALLIC_REQUIRE_CUDA=1.
func NeedCUDA(t testing.TB, reason string) {
	t.Helper()
	if CUDARequired() {
		t.Fatalf("CUDA GPU required (METALLIC_REQUIRE_CUDA=1) but unavailable: %s", reason)
	}
	t.Skipf("CUDA GPU unavailable: %s", reason)
}
