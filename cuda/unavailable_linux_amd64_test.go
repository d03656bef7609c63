//go:build linux && amd64

package cuda

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenMissingDriver: a driver library that cannot be loaded is named in
// the unavailable error, on any machine.
func TestOpenMissingDriver(t *testing.T) {
	_, err := openDevice("/nonexistent/libcuda.so.1", searchEnv{getenv: envOf(nil)})
	want := "cuda: unavailable: cannot load /nonexistent/libcuda.so.1 (the NVIDIA driver library; is the NVIDIA driver installed?): "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want an ErrUnavailable error starting %q", err, want)
	}
}

// TestNVRTCNotFound: with METALLIC_NVRTC naming a missing file, loading
// NVRTC fails with an unavailable error naming it, and nothing else is
// tried.
func TestNVRTCNotFound(t *testing.T) {
	_, err := loadNVRTC(searchEnv{getenv: envOf(map[string]string{EnvNVRTC: "/nonexistent/libnvrtc.so.13"})})
	want := "cuda: unavailable: METALLIC_NVRTC=/nonexistent/libnvrtc.so.13: /nonexistent/libnvrtc.so.13: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want one starting %q", err, want)
	}
	// Without it, in an empty tree and with no NVRTC on the loader path,
	// the error lists what was tried.
	env := searchEnv{getenv: envOf(nil), root: t.TempDir()}
	if _, err := loadNVRTC(env); err != nil {
		for _, want := range []string{"cuda: unavailable: no NVRTC library", "libnvrtc.so:", "libnvrtc.so.13:", "METALLIC_NVRTC"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	}
}
