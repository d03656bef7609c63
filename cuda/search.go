package cuda

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Finding NVRTC and the CUDA headers.
//
// NVRTC is tried, first to last:
//  1. $METALLIC_NVRTC, a file path; when set nothing else is tried.
//  2. The loader path: libnvrtc.so, then the versioned sonames, newest
//     first (LD_LIBRARY_PATH, the ld.so cache, the default folders).
//  3. The usual CUDA install folders: $CUDA_HOME and $CUDA_PATH, then
//     /usr/local/cuda, /usr/local/cuda-X.Y (newest first), each as lib64
//     and targets/x86_64-linux/lib; then /usr/lib/x86_64-linux-gnu; then
//     /opt/cuda's lib64 and targets/x86_64-linux/lib. In each folder
//     libnvrtc.so, then libnvrtc.so.* newest first.

// nvrtcSonames are the sonames NVRTC has shipped under, newest first.
var nvrtcSonames = []string{"libnvrtc.so.14", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0", "libnvrtc.so.10.2"}

// candidate is one NVRTC library to try: a file path, or a bare soname for
// the dynamic loader to resolve.
type candidate struct {
	name string
	path bool // name is a file path
}

// searchEnv is where the search looks: the environment, and a root that
// prefixes every absolute system folder ("" in production; a fake tree in
// tests).
type searchEnv struct {
	getenv func(string) string
	root   string
}

// cudaRoots lists the CUDA installation folders to search, in order, that
// exist: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda, /usr/local/cuda-X.Y
// newest first, /opt/cuda.
func (s searchEnv) cudaRoots() []string {
	var roots []string
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if d := s.getenv(v); d != "" {
			roots = append(roots, d)
		}
	}
	roots = append(roots, filepath.Join(s.root, "/usr/local/cuda"))
	versioned, _ := filepath.Glob(filepath.Join(s.root, "/usr/local/cuda-*"))
	sortNewestFirst(versioned, func(p string) string { return strings.TrimPrefix(filepath.Base(p), "cuda-") })
	roots = append(roots, versioned...)
	roots = append(roots, filepath.Join(s.root, "/opt/cuda"))
	return dedupe(roots, isDir)
}

// libDirs lists the folders that may hold NVRTC, in search order.
func (s searchEnv) libDirs() []string {
	var dirs []string
	opt := filepath.Clean(filepath.Join(s.root, "/opt/cuda"))
	for _, r := range s.cudaRoots() {
		if r != opt {
			dirs = append(dirs, filepath.Join(r, "lib64"), filepath.Join(r, "targets", "x86_64-linux", "lib"))
		}
	}
	dirs = append(dirs, filepath.Join(s.root, "/usr/lib/x86_64-linux-gnu"),
		filepath.Join(opt, "lib64"), filepath.Join(opt, "targets", "x86_64-linux", "lib"))
	return dedupe(dirs, isDir)
}

// nvrtcCandidates returns every NVRTC library to try, in order.
func (s searchEnv) nvrtcCandidates() []candidate {
	if p := s.getenv(EnvNVRTC); p != "" {
		return []candidate{{name: p, path: true}}
	}
	c := []candidate{{name: "libnvrtc.so"}}
	for _, n := range nvrtcSonames {
		c = append(c, candidate{name: n})
	}
	for _, d := range s.libDirs() {
		for _, f := range nvrtcFiles(d) {
			c = append(c, candidate{name: filepath.Join(d, f), path: true})
		}
	}
	return c
}

// nvrtcFiles lists dir's NVRTC libraries: libnvrtc.so, then libnvrtc.so.*
// newest first (never libnvrtc-builtins or libnvrtc_static).
func nvrtcFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var plain bool
	var versioned []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == "libnvrtc.so":
			plain = true
		case strings.HasPrefix(n, "libnvrtc.so."):
			versioned = append(versioned, n)
		}
	}
	sortNewestFirst(versioned, func(n string) string { return strings.TrimPrefix(n, "libnvrtc.so.") })
	if plain {
		versioned = append([]string{"libnvrtc.so"}, versioned...)
	}
	return versioned
}

// builtinsFor returns the libnvrtc-builtins libraries next to an NVRTC
// library file, newest first. NVRTC loads its builtins by soname at its
// first compile; loading them from the same folder first lets that work
// when the folder is not on the loader path.
func builtinsFor(lib string) []string {
	dir := filepath.Dir(lib)
	m, _ := filepath.Glob(filepath.Join(dir, "libnvrtc-builtins.so*"))
	sortNewestFirst(m, func(p string) string { return strings.TrimPrefix(filepath.Base(p), "libnvrtc-builtins.so") })
	return m
}

// includeDirs returns the header folders to give NVRTC for an NVRTC
// library file lib: the folder holding cuda_fp16.h (see includeDir) and,
// where it exists, its cccl subfolder (CUDA 13 keeps <nv/target>, which
// cuda_fp16.h includes, there). It returns nil when there is none.
func (s searchEnv) includeDirs(lib string) []string {
	d := s.includeDir(lib)
	if d == "" {
		return nil
	}
	dirs := []string{d}
	if isDir(filepath.Join(d, "cccl")) {
		dirs = append(dirs, filepath.Join(d, "cccl"))
	}
	return dirs
}

// includeDir returns the folder holding cuda_fp16.h for an NVRTC library
// file lib ("" when lib is unknown): next to lib's installation first, then
// the CUDA roots, then /usr/include. It returns "" when there is none.
func (s searchEnv) includeDir(lib string) string {
	var dirs []string
	if lib != "" {
		d := filepath.Dir(lib)
		dirs = append(dirs, filepath.Join(d, "..", "include"), filepath.Join(d, "..", "..", "include"))
	}
	for _, r := range s.cudaRoots() {
		dirs = append(dirs, filepath.Join(r, "include"), filepath.Join(r, "targets", "x86_64-linux", "include"))
	}
	dirs = append(dirs, filepath.Join(s.root, "/usr/include"))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cuda_fp16.h")); err == nil {
			return filepath.Clean(d)
		}
	}
	return ""
}

// sortNewestFirst sorts names by the dotted version key(name) yields,
// highest first; names without a numeric version go last, in name order.
func sortNewestFirst(names []string, key func(string) string) {
	slices.SortStableFunc(names, func(a, b string) int {
		va, vb := parseVersion(key(a)), parseVersion(key(b))
		if c := compareVersions(vb, va); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// parseVersion parses "12.4.127" into [12 4 127]; nil when a component is
// not a number.
func parseVersion(s string) []int {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil
	}
	var v []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

// compareVersions orders versions component by component; a missing
// component counts as lower (12 < 12.0 < 12.1), and nil is lowest.
func compareVersions(a, b []int) int {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return -1
		case i >= len(b):
			return 1
		case a[i] != b[i]:
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// dedupe drops duplicates (after cleaning) and paths keep rejects.
func dedupe(paths []string, keep func(string) bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		p = filepath.Clean(p)
		if seen[p] || !keep(p) {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
