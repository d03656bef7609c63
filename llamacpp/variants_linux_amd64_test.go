package llamacpp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
)

// mirrorLibs makes a library folder of symbolic links to the pinned
// build's libraries and CPU variants.
func mirrorLibs(t *testing.T) string {
	t.Helper()
	src := testenv.GGMLLib(t)
	dir := t.TempDir()
	names := []string{fileGGMLBase, fileGGML, fileLlama}
	for n := range pinnedCPUVariants {
		names = append(names, n)
	}
	for _, n := range names {
		require.NoError(t, os.Symlink(filepath.Join(src, n), filepath.Join(dir, n)))
	}
	return dir
}

// TestMixedCPUVariants: a library folder holding a libggml-cpu variant
// that is not the pinned release's (an extra name, other bytes of the same
// size, another size) is refused before anything is loaded, naming the
// file; the installed folder passes.
func TestMixedCPUVariants(t *testing.T) {
	require.NoError(t, checkCPUVariants(testenv.GGMLLib(t)), "the installed pinned build")
	require.NoError(t, checkCPUVariants(mirrorLibs(t)), "links to the installed pinned build")
	m, err := model.Open(storiesPath(t))
	require.NoError(t, err)
	defer m.Close()
	replace := func(t *testing.T, dir, name string, data []byte) {
		p := filepath.Join(dir, name)
		os.Remove(p)
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"extra variant", func(t *testing.T, dir string) {
			replace(t, dir, "libggml-cpu-znver9.so", []byte("\x7fELF"))
		}, "libggml-cpu-znver9.so is not a variant of the pinned release"},
		{"same size, other bytes", func(t *testing.T, dir string) {
			replace(t, dir, "libggml-cpu-skylakex.so", make([]byte, pinnedCPUVariants["libggml-cpu-skylakex.so"].size))
		}, "libggml-cpu-skylakex.so has sha256 "},
		{"other size", func(t *testing.T, dir string) {
			replace(t, dir, "libggml-cpu-haswell.so", []byte("\x7fELF"))
		}, "libggml-cpu-haswell.so has 4 bytes, the pinned build 1228424"},
		{"no variant", func(t *testing.T, dir string) {
			for n := range pinnedCPUVariants {
				require.NoError(t, os.Remove(filepath.Join(dir, n)))
			}
		}, "has no libggml-cpu-*.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mirrorLibs(t)
			tc.setup(t, dir)
			err := checkCPUVariants(dir)
			require.ErrorContains(t, err, tc.want)
			_, err = New(m, Options{LibDir: dir, PathOptions: model.PathOptions{Threads: 1}})
			require.ErrorContains(t, err, tc.want, "New must refuse the folder")
		})
	}
}
