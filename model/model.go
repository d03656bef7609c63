package model

import (
	"fmt"

	"github.com/metallic-go/metallic/gguf"
)

// Model is a GGUF file opened for execution: its parsed metadata, its
// hyper-parameters and its bound weights (views into the mapping).
type Model struct {
	Path    string
	File    *gguf.File
	Config  Config
	Weights Weights
}

// Open maps the GGUF file at path, reads its configuration and binds its
// weights. The caller must Close the model; weight data is unusable after.
func Open(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := FromFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// FromFile reads the configuration of an already opened file and binds its
// weights. The model takes no ownership beyond keeping f: Close closes f.
func FromFile(f *gguf.File) (*Model, error) {
	cfg, err := LoadConfig(f)
	if err != nil {
		return nil, err
	}
	w, err := Bind(f, cfg)
	if err != nil {
		return nil, err
	}
	return &Model{File: f, Config: *cfg, Weights: *w}, nil
}

// Close unmaps the file.
func (m *Model) Close() error {
	if m == nil || m.File == nil {
		return nil
	}
	return m.File.Close()
}
