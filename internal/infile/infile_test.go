//go:build unix

package infile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// special returns the special files of this machine by name: a named pipe
// without a writer, a directory, /dev/zero and a symbolic link to it.
func special(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{"directory": dir}
	{
		fifo := filepath.Join(dir, "fifo.json")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		out["fifo"] = fifo
		if _, err := os.Stat("/dev/zero"); err == nil {
			out["/dev/zero"] = "/dev/zero"
			link := filepath.Join(dir, "zero.json")
			require.NoError(t, os.Symlink("/dev/zero", link))
			out["link to /dev/zero"] = link
		}
	}
	return out
}

func TestRefusesSpecialFiles(t *testing.T) {
	for name, path := range special(t) {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 2)
			go func() {
				f, err := Open(path)
				if f != nil {
					f.Close()
				}
				done <- err
			}()
			go func() { _, err := ReadFile(path, 1<<20); done <- err }()
			for range 2 {
				select {
				case err := <-done:
					require.ErrorIs(t, err, ErrNotRegular)
					require.Contains(t, err.Error(), path)
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: Open or ReadFile still blocked after 10 s", path)
				}
			}
		})
	}
}

func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.json")
	require.NoError(t, os.WriteFile(small, []byte(`{"a":1}`), 0o600))
	got, err := ReadFile(small, 7)
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(got))

	_, err = ReadFile(small, 6)
	require.ErrorIs(t, err, ErrTooLarge)

	// A sparse file of 1 TiB is refused from its size, without reading it.
	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<40))
	require.NoError(t, f.Close())
	_, err = ReadFile(huge, 64<<20)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestOpenRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, os.WriteFile(p, []byte("GGUF"), 0o600))
	f, err := Open(p)
	require.NoError(t, err)
	b := make([]byte, 8)
	n, err := f.Read(b)
	require.NoError(t, err)
	require.Equal(t, "GGUF", string(b[:n]))
	require.NoError(t, f.Close())

	_, err = Open(filepath.Join(t.TempDir(), "missing"))
	require.True(t, errors.Is(err, os.ErrNotExist), "got %v", err)
}
