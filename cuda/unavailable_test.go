package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// TestUnavailable: where the backend cannot run, backend.Open("cuda")
// fails with an ErrUnavailable error starting "cuda: unavailable:" that
// names the cause (the CLI turns it into exit 2).
func TestUnavailable(t *testing.T) {
	b, err := backend.Open("cuda")
	if err == nil {
		b.Close()
		t.Skip("a CUDA driver, device and NVRTC are present: the unavailable path cannot be reached here (TestOpenMissingDriver covers it)")
	}
	if !strings.HasPrefix(err.Error(), "cuda: unavailable: ") || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want an ErrUnavailable error starting %q", err, "cuda: unavailable: ")
	}
	if b != nil {
		t.Errorf("backend %v returned with an error", b)
	}
	t.Log(err)
}
