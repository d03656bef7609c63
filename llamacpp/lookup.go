package llamacpp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables read by this package.
const (
	// EnvDir names the folder holding libllama, libggml and libggml-base.
	// It is used when Options.LibDir is empty.
	EnvDir = "METALLIC_LLAMACPP_DIR"
	// EnvLog, when "1", forwards llama.cpp's log messages to stderr
	// instead of dropping them.
	EnvLog = "METALLIC_LLAMACPP_LOG"
	// EnvCache names the folder scripts/setup.sh installed into when it is
	// not .cache in the checkout; LibDir looks for CacheDir's npm part there.
	EnvCache = "METALLIC_CACHE_DIR"
)

// CacheDir is where scripts/setup.sh installs the prebuilt libraries,
// relative to the repository root (the folder holding go.mod).
const CacheDir = ".cache/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"

// Library file names of the pinned build (npm @node-llama-cpp/linux-x64@3.22.1).
const (
	fileGGMLBase = "libggml-base.so"
	fileGGML     = "libggml.v0.5.0.so"
	fileLlama    = "libllama.v0.5.0.so"
)

// LibDir returns the library folder to use: explicit if not empty, else
// $METALLIC_LLAMACPP_DIR, else the npm folder of $METALLIC_CACHE_DIR when
// that exists, else CacheDir under the first folder holding a go.mod found
// walking up from the working directory, then from the running executable.
// It does not check that the folder holds the libraries.
func LibDir(explicit string) (string, error) {
	if explicit != "" {
		return filepath.Abs(explicit)
	}
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	var tried []string
	if c := os.Getenv(EnvCache); c != "" {
		d := filepath.Join(c, strings.TrimPrefix(CacheDir, ".cache/"))
		if _, err := os.Stat(d); err == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		if root, ok := findModuleRoot(s); ok {
			d := filepath.Join(root, CacheDir)
			if _, err := os.Stat(d); err == nil {
				return d, nil
			}
			tried = append(tried, d)
		}
	}
	if len(tried) == 0 {
		return "", errors.New("llamacpp: no library folder: set " + EnvDir + " or run from inside the repository (no go.mod found above the working directory or executable)")
	}
	return "", fmt.Errorf("llamacpp: no library folder: set %s or run scripts/setup.sh (tried %s)", EnvDir, strings.Join(tried, ", "))
}

// findModuleRoot walks up from dir to the first folder holding go.mod.
func findModuleRoot(dir string) (string, bool) {
	dir = filepath.Clean(dir)
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// checkDir reports a clear error when dir lacks one of the pinned library
// files or holds a libggml-cpu variant of another build (checkCPUVariants),
// before anything is loaded.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("llamacpp: library folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("llamacpp: library folder %s is not a directory", dir)
	}
	var missing []string
	for _, f := range []string{fileGGMLBase, fileGGML, fileLlama} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("llamacpp: library folder %s lacks %s (want the build of npm @node-llama-cpp/linux-x64@3.22.1; set %s or run scripts/setup.sh)",
			dir, strings.Join(missing, ", "), EnvDir)
	}
	return checkCPUVariants(dir)
}
