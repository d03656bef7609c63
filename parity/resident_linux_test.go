//go:build linux

package parity

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentKB returns the Rss of the mapping that starts at addr, from
// /proc/self/smaps.
func residentKB(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, " ") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = strings.HasPrefix(line, head)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			var kb int
			fmt.Sscanf(strings.TrimPrefix(line, "Rss:"), "%d", &kb)
			return kb
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", head)
	return 0
}

// releaseFile drops the resident pages of a file mapped twice, shared
// and read-only, and the mappings still read the file's bytes; a file
// mapped once (min 2), or privately, is left alone.
func TestReleaseFile(t *testing.T) {
	const size = 1 << 20
	file := filepath.Join(t.TempDir(), "m.gguf")
	want := bytes.Repeat([]byte("metallic"), size/8)
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	mmap := func(flags int) []byte {
		b, err := unix.Mmap(int(fh.Fd()), 0, size, unix.PROT_READ, flags)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		return b
	}
	touch := func(b []byte) {
		if !bytes.Equal(b, want) {
			t.Fatal("the mapping does not read the file's bytes")
		}
	}
	a := mmap(unix.MAP_SHARED)
	touch(a)
	if n, err := releaseFile(file, 2); err != nil || n != 0 {
		t.Fatalf("one mapping: released %d (%v), want 0", n, err)
	}
	if kb := residentKB(t, a); kb < size/1024 {
		t.Fatalf("one mapping: %d KB resident, want all %d", kb, size/1024)
	}
	b, p := mmap(unix.MAP_SHARED), mmap(unix.MAP_PRIVATE)
	touch(b)
	touch(p)
	n, err := releaseFile(file, 2)
	if err != nil || n != 2 {
		t.Fatalf("released %d shared mappings (%v), want 2", n, err)
	}
	for i, m := range [][]byte{a, b} {
		if kb := residentKB(t, m); kb != 0 {
			t.Errorf("shared mapping %d: %d KB still resident", i, kb)
		}
	}
	if kb := residentKB(t, p); kb < size/1024 {
		t.Errorf("private mapping: %d KB resident, want it untouched (%d)", kb, size/1024)
	}
	touch(a)
	touch(b)
}
