//go:build !linux || !amd64

package cuda

import (
	"runtime"

	"github.com/metallic-go/metallic/backend"
)

func init() {
	backend.Register("cuda", func(backend.Options) (backend.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// Open reports that the cuda backend needs linux/amd64: the driver is
// loaded through purego, which this build supports there only.
func Open() (*Backend, error) {
	return nil, unavailable("the cuda backend runs on linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
}
