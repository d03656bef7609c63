package sysmem

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemAvailable(t *testing.T) {
	kb, ok := memAvailable([]byte("MemTotal:       24564588 kB\nMemFree:        23000000 kB\nMemAvailable:   23456789 kB\n"))
	require.True(t, ok)
	require.Equal(t, uint64(23456789), kb)
	_, ok = memAvailable([]byte("MemTotal:       24564588 kB\n"))
	require.False(t, ok)
}

func TestAvailable(t *testing.T) {
	n, ok := Available()
	require.True(t, ok, "Linux always reports available memory")
	require.Greater(t, n, uint64(1<<20), "less than 1 MiB available?")
}

// TestAddressSpaceLimit: under ulimit -v the available memory is at most
// what the limit leaves.
func TestAddressSpaceLimit(t *testing.T) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	vm := vmSize()
	require.Greater(t, vm, uint64(0))
	lim := syscall.Rlimit{Cur: vm + 1<<30, Max: old.Max}
	if lim.Cur > old.Max {
		t.Skip("the hard address-space limit leaves no 1 GiB to test with")
	}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &lim))
	n, ok := Available()
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &old))
	require.True(t, ok)
	require.LessOrEqual(t, n, uint64(1<<30))
	require.Greater(t, n, uint64(1<<29))
}
