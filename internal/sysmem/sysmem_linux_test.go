package sysmem

import (
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
