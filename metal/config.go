package metal

import (
	"fmt"
	"time"
)

// Environment variables the backend reads when it is opened.
const (
	// EnvSync set to 1 commits and waits for every dispatch on its own,
	// so a GPU error names the dispatch that caused it (slow; for
	// debugging).
	EnvSync = "METALLIC_METAL_SYNC"
	// EnvTimeout bounds every wait for the GPU (a Go duration such as
	// "90s"; default 2m). A wait that runs out returns an error naming the
	// kernels in flight instead of hanging.
	EnvTimeout = "METALLIC_METAL_TIMEOUT"
)

// defaultTimeout bounds a wait when EnvTimeout is unset.
const defaultTimeout = 2 * time.Minute

// config is the backend's run-time configuration.
type config struct {
	sync    bool          // one command buffer per dispatch, waited for
	timeout time.Duration // bound of every wait
}

// parseConfig reads the configuration from getenv. A malformed value is an
// error naming the variable, never ignored.
func parseConfig(getenv func(string) string) (config, error) {
	c := config{timeout: defaultTimeout}
	switch v := getenv(EnvSync); v {
	case "", "0":
	case "1":
		c.sync = true
	default:
		return c, fmt.Errorf("metal: %s=%q: want 0 (off) or 1 (wait after every dispatch)", EnvSync, v)
	}
	if v := getenv(EnvTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("metal: %s=%q: want a positive duration such as 90s or 5m", EnvTimeout, v)
		}
		c.timeout = d
	}
	return c, nil
}
