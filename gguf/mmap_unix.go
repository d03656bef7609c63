//go:build linux || darwin

package gguf

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of fh read-only. An empty file is not mapped.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	if size == 0 {
		return []byte{}, nil, nil
	}
	b, err := unix.Mmap(int(fh.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return unix.Munmap(b) }, nil
}
