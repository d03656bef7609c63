//go:build !linux && !darwin

package gguf

import (
	"io"
	"os"
)

// mapFile reads the whole file: this platform has no mmap support here.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(fh, b); err != nil {
		return nil, nil, err
	}
	return b, nil, nil
}
