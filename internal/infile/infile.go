// Package infile opens the files metallic reads from a path given by a
// user (models, goldens, specs, tokenizer JSON, vocabularies) and refuses,
// before anything blocks, what is not a regular file: a named pipe would
// block in open until a writer appears, a device such as /dev/zero never
// ends, a directory cannot be read. ReadFile also caps the size of what it
// reads into memory.
package infile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the errors of Open and ReadFile for a path
// that names a named pipe, a device, a socket or a directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error of ReadFile for a file larger than
// its limit.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading when it names a regular file (symbolic links
// are followed). Anything else is refused with an error wrapping
// ErrNotRegular before the file is opened, so that a named pipe cannot
// block; the file is opened without blocking and checked again, so that a
// pipe swapped in between is refused too.
func Open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	st2, err := f.Stat()
	if err == nil {
		err = regular(path, st2)
	}
	if err == nil && !os.SameFile(st, st2) {
		err = fmt.Errorf("%s: the file changed while it was opened", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the regular file at path (see Open) when it holds at
// most limit bytes; a larger file is refused with an error wrapping
// ErrTooLarge, without reading it.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, tooLarge(path, st.Size(), limit)
	}
	// The file may grow while it is read: read at most one byte past the
	// limit to tell.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, int64(len(data)), limit)
	}
	return data, nil
}

func tooLarge(path string, size, limit int64) error {
	return fmt.Errorf("%s: %w: %d bytes, the limit is %d", path, ErrTooLarge, size, limit)
}

// regular returns nil for a regular file and else an error naming what
// path is.
func regular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	return fmt.Errorf("%s: %w (it is %s): give a file", path, ErrNotRegular, Kind(m))
}

// Kind names the kind of file a mode describes: "a directory", "a named
// pipe (FIFO)", "a character device", "a block device", "a socket", "a
// regular file" or "an irregular file".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}
