//go:build linux && amd64

package cuda

import (
	"os"
	"sync"

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

// driverLib is the driver library's soname.
const driverLib = "libcuda.so.1"

// shared is the process's device, opened once: the primary context is
// retained once and every Backend shares it and its module cache.
var shared struct {
	once sync.Once
	dev  *device
	err  error
}

// Open opens a cuda Backend on device 0 (the first of CUDA_VISIBLE_DEVICES),
// reading METALLIC_CUDA_GRAPHS, METALLIC_CUDA_SYNC and
// METALLIC_CUDA_TIMEOUT. Without a driver, device or NVRTC the error wraps
// ErrUnavailable and starts "cuda: unavailable:". backend.Open("cuda")
// calls it.
func Open() (*Backend, error) {
	cfg, err := parseConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	shared.once.Do(func() {
		shared.dev, shared.err = openDevice(driverLib, searchEnv{getenv: os.Getenv})
	})
	if shared.err != nil {
		return nil, shared.err
	}
	return newBackend(shared.dev, cfg)
}

// openDevice opens the driver library lib and NVRTC.
func openDevice(lib string, env searchEnv) (*device, error) {
	drv, err := openCU(lib)
	if err != nil {
		return nil, err
	}
	nv, err := loadNVRTC(env)
	if err != nil {
		return nil, err
	}
	return newDevice(drv, nv, env.includeDirs(nv.file)), nil
}
