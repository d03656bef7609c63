//go:build !darwin || !arm64

package metal

import (
	"runtime"

	"github.com/metallic-go/metallic/backend"
)

func init() {
	backend.Register("metal", func(backend.Options) (backend.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// Open reports that the metal backend needs macOS on Apple silicon: the
// kernels are written for Apple GPUs (SIMD groups of 32) and Metal is
// reached through purego's Objective-C runtime, which this build has on
// darwin/arm64 only. The error wraps ErrUnavailable.
func Open() (*Backend, error) {
	return nil, needsAppleSilicon(runtime.GOOS, runtime.GOARCH)
}
