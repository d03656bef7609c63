// Package embedded carries the stories260K model inside the binary, so that
// paritycheck runs with no arguments on a fresh machine.
package embedded

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/metallic-go/metallic/internal/infile"
)

//go:embed stories260K.gguf
var stories []byte

// Name is the embedded model's file name.
const Name = "stories260K.gguf"

// SHA256 is the hex SHA-256 of the embedded model file.
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"

// Bytes returns the embedded model file. The slice must not be modified.
func Bytes() []byte { return stories }

// Path writes the embedded model to the user cache directory (once; the file
// is verified by its SHA-256 before reuse) and returns its path, so that it
// can be memory-mapped and handed to llama.cpp like any other file. When
// the user cache directory is unset or cannot be created, the model goes
// to a folder of the temporary directory instead.
func Path() (string, error) {
	sum := sha256.Sum256(stories)
	if hex.EncodeToString(sum[:]) != SHA256 {
		return "", fmt.Errorf("embedded: model checksum mismatch (binary corrupt)")
	}
	var dirs []string
	if dir, err := os.UserCacheDir(); err == nil && dir != "" {
		dirs = append(dirs, filepath.Join(dir, "metallic"))
	}
	dirs = append(dirs, filepath.Join(os.TempDir(), fmt.Sprintf("metallic-%d", os.Getuid())))
	var errs []error
	for _, dir := range dirs {
		p, err := writeOnce(dir)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("embedded: %w", errors.Join(errs...))
}

// writeOnce writes the model into dir unless an identical copy is there,
// and returns its path.
func writeOnce(dir string) (string, error) {
	p := filepath.Join(dir, Name)
	if b, err := infile.ReadFile(p, int64(len(stories))); err == nil && bytes.Equal(b, stories) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, Name+".*")
	if err != nil {
		return "", err
	}
	if _, err := tmp.Write(stories); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return p, nil
}
