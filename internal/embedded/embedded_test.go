//go:build linux

package embedded

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPathFallsBackToTemp: when the user cache folder cannot be created
// (XDG_CACHE_HOME is a file), the model is written under TMPDIR instead
// of failing.
func TestPathFallsBackToTemp(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	tmp := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", blocker)
	t.Setenv("TMPDIR", tmp)
	p, err := Path()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(p, tmp+string(filepath.Separator)), "path %s, want it under TMPDIR %s", p, tmp)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, len(stories), len(b))

	// A named pipe where the cached copy should be is replaced, not read.
	require.NoError(t, os.Remove(p))
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	p2, err := Path()
	require.NoError(t, err)
	require.Equal(t, p, p2)
	st, err := os.Stat(p2)
	require.NoError(t, err)
	require.True(t, st.Mode().IsRegular(), "mode %v", st.Mode())
}
