//go:build darwin && arm64

package metal

import (
	"os"
	"sync"

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

// shared is the process's device, opened once: every Backend shares it
// and its pipeline cache.
var shared struct {
	once sync.Once
	dev  *device
	err  error
}

// Open opens a metal Backend on the system's default Metal device,
// reading METALLIC_METAL_SYNC and METALLIC_METAL_TIMEOUT. Without a
// Metal device, or on a GPU that is not Apple silicon, the error wraps
// ErrUnavailable. backend.Open("metal") calls it.
func Open() (*Backend, error) {
	cfg, err := parseConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	shared.once.Do(func() {
		rt, err := newDarwinRuntime()
		if err != nil {
			shared.err = err
			return
		}
		shared.dev, shared.err = openDevice(rt)
	})
	if shared.err != nil {
		return nil, shared.err
	}
	return newBackend(shared.dev, cfg)
}
