package cuda

import (
	"fmt"
	"time"
)

// Environment variables the backend reads when it is opened.
const (
	// EnvGraphs set to 0 turns CUDA graph replay off (1, the default, on).
	EnvGraphs = "METALLIC_CUDA_GRAPHS"
	// EnvSync set to 1 waits after every launch, so an asynchronous fault
	// names the launch that caused it (slow; for debugging).
	EnvSync = "METALLIC_CUDA_SYNC"
	// EnvTimeout bounds every wait for the GPU (a Go duration such as
	// "90s"; default 2m). A wait that runs out returns an error naming the
	// kernels in flight instead of hanging.
	EnvTimeout = "METALLIC_CUDA_TIMEOUT"
	// EnvNVRTC is the path of the NVRTC library to load, tried before any
	// other (see nvrtcCandidates).
	EnvNVRTC = "METALLIC_NVRTC"
	// EnvPDL set to 1 launches kernels with programmatic dependent launch
	// allowed (compute capability 9.0+): each kernel may be scheduled
	// while the one before it finishes, and waits for it in its first
	// instruction (griddepcontrol.wait), hiding the launch gap between
	// dependent kernels. Default 0 (off) until measured on the GPU.
	EnvPDL = "METALLIC_CUDA_PDL"
)

// defaultTimeout bounds a wait when EnvTimeout is unset.
const defaultTimeout = 2 * time.Minute

// config is the backend's run-time configuration.
type config struct {
	graphs  bool          // replay repeated batches as CUDA graphs
	pdl     bool          // allow programmatic dependent launch (EnvPDL)
	sync    bool          // wait after every launch
	timeout time.Duration // bound of every wait
	// graphMin is the fewest launches a batch needs to be worth a graph.
	graphMin int
	// graphMax is how many batches (seen or captured) the cache keeps.
	graphMax int
}

// parseConfig reads the configuration from getenv. A malformed value is an
// error naming the variable, never ignored.
func parseConfig(getenv func(string) string) (config, error) {
	c := config{graphs: true, timeout: defaultTimeout, graphMin: 4, graphMax: 32}
	switch v := getenv(EnvGraphs); v {
	case "", "1":
	case "0":
		c.graphs = false
	default:
		return c, fmt.Errorf("cuda: %s=%q: want 0 (off) or 1 (on)", EnvGraphs, v)
	}
	switch v := getenv(EnvSync); v {
	case "", "0":
	case "1":
		c.sync = true
	default:
		return c, fmt.Errorf("cuda: %s=%q: want 0 (off) or 1 (wait after every launch)", EnvSync, v)
	}
	switch v := getenv(EnvPDL); v {
	case "", "0":
	case "1":
		c.pdl = true
	default:
		return c, fmt.Errorf("cuda: %s=%q: want 0 (off) or 1 (programmatic dependent launch)", EnvPDL, v)
	}
	if v := getenv(EnvTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("cuda: %s=%q: want a positive duration such as 90s or 5m", EnvTimeout, v)
		}
		c.timeout = d
	}
	return c, nil
}
