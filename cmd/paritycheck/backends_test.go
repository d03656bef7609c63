package main

import (
	"runtime"
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

// TestMetalUnavailable: where the metal backend cannot run (any platform
// but macOS on Apple silicon: "metal: needs macOS on Apple silicon"),
// every command given --backend metal exits 2 with the cause, never a
// panic.
func TestMetalUnavailable(t *testing.T) {
	b, err := backend.Open("metal")
	if err == nil {
		b.Close()
		t.Skip("the metal backend is available on this machine")
	}
	want := err.Error()
	if runtime.GOOS != "darwin" || runtime.GOARCH != "arm64" {
		if !strings.HasPrefix(want, "metal: needs macOS on Apple silicon") {
			t.Fatalf("backend.Open(\"metal\") = %q, want it to start with \"metal: needs macOS on Apple silicon\"", want)
		}
	}
	for _, args := range [][]string{
		{"--backend", "metal"},
		{"generate", "-n", "2", "--backend", "metal"},
		{"ops", "--backend", "metal"},
		{"bench", "-n", "2", "--reps", "1", "--backend", "metal"},
		{"steps", "--backend", "metal", "--json"},
	} {
		code, _, stderr := genRun(args...)
		if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", args, code, stderr, want)
		}
	}
}
