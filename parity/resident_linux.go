//go:build linux

package parity

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fileMapping is one range of /proc/self/maps that maps a given file.
type fileMapping struct{ start, end uintptr }

// mappingsOf lists this process's shared, read-only mappings of file
// (the same device and inode, or the same resolved path). A mapping that
// is writable or private is never listed.
func mappingsOf(file string) ([]fileMapping, error) {
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		return nil, nil // gone or renamed: nothing to recognize it by
	}
	abs, err := filepath.Abs(file)
	if err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	dev := fmt.Sprintf("%02x:%02x", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []fileMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[1] != "r--s" {
			continue
		}
		same := fs[3] == dev && fs[4] == strconv.FormatUint(uint64(st.Ino), 10)
		if !same && strings.Join(fs[5:], " ") != abs {
			continue
		}
		lo, hi, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || e <= s {
			continue
		}
		out = append(out, fileMapping{uintptr(s), uintptr(e)})
	}
	return out, sc.Err()
}

// releaseFile lets the kernel drop this process's resident pages of
// file when the process maps it at least atLeast times (llama.cpp maps the
// model itself, beside the gguf package's mapping): each phase of a run
// then holds only the pages of the mapping it reads, not two copies of
// the model in its resident set. It is safe: only shared mappings
// without write permission are touched, whose pages are the file's
// bytes, read back from the page cache on the next access
// (MADV_DONTNEED); nothing written can be lost. It returns the number of
// mappings released.
func releaseFile(file string, atLeast int) (int, error) {
	if file == "" {
		return 0, nil
	}
	ms, err := mappingsOf(file)
	if err != nil || len(ms) < atLeast || len(ms) == 0 {
		return 0, err
	}
	for _, m := range ms {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return 0, fmt.Errorf("parity: madvise of %s: %w", file, errno)
		}
	}
	return len(ms), nil
}
