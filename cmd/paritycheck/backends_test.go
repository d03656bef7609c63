package main

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// TestCUDAUnavailable: on a machine without an NVIDIA driver, GPU or
// NVRTC, every command given --backend cuda exits 2 with the cause.
func TestCUDAUnavailable(t *testing.T) {
	if b, err := backend.Open("cuda"); err == nil {
		b.Close()
		t.Skip("the cuda backend is available on this machine")
	}
	for _, args := range [][]string{
		{"generate", "-n", "2", "--backend", "cuda"},
		{"ops", "--backend", "cuda"},
		{"bench", "-n", "2", "--reps", "1", "--backend", "cuda"},
	} {
		code, _, stderr := genRun(args...)
		if code != 2 || !strings.Contains(stderr, "cuda: unavailable: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming why cuda is unavailable", args, code, stderr)
		}
	}
}
