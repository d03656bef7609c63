package gguf

import (
	"fmt"

	"github.com/metallic-go/metallic/internal/infile"
)

// Open maps the file at path read-only and parses its header. Tensor data
// is not read: Data returns views into the mapping, valid until Close.
// On platforms without mmap support the whole file is read into memory.
// The file must not be truncated while it is open: reading a mapped page
// past the new end faults. A path that is not a regular file (a named pipe,
// a device, a directory) is refused before it is opened (infile.Open).
func Open(path string) (*File, error) {
	fh, err := infile.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: %w", path, unsupported("file of %d bytes is too large for this platform", size))
	}
	data, unmap, err := mapFile(fh, int(size))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.unmap = unmap
	return f, nil
}
