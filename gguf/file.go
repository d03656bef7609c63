package gguf

import (
	"errors"
	"math"
)

// ErrMalformed is wrapped by every error about a file that breaks the GGUF
// format or its invariants (truncation, bad counts, bad offsets …).
var ErrMalformed = errors.New("gguf: malformed file")

// ErrUnsupported is wrapped by errors about well-formed input this package
// does not handle (GGUF version 1, an unknown tensor type, a type that
// cannot be dequantized).
var ErrUnsupported = errors.New("gguf: unsupported")

// File is a parsed GGUF file. Its tensor data stays in the mapped file (or
// the byte slice given to Parse) and is reached through Data.
type File struct {
	Version    uint32
	Alignment  int64
	KV         []KV         // file order
	Tensors    []TensorInfo // file order
	DataOffset int64        // absolute offset of the tensor data section
	Size       int64        // file size

	data    []byte
	unmap   func() error
	keys    map[string]int
	tensors map[string]int
}

// KV is one metadata key-value pair.
//
// Value holds one of the Go types uint8 int8 uint16 int16 uint32 int32
// uint64 int64 float32 float64 bool string; an array holds the matching
// slice ([]uint8 … []bool, []string); an array of arrays is an []any whose
// elements are arrays (recursively).
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name   string
	Type   Type
	Shape  []int64 // GGUF order: Shape[0] is the contiguous dimension (ne0)
	Offset int64   // relative to DataOffset
	Bytes  int64
}

// Elements returns the number of elements (the product of Shape; 1 for a
// tensor with no dimensions).
func (t *TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Close releases the file mapping. Slices returned by Data must not be used
// afterwards. Close on a File from Parse does nothing.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	u := f.unmap
	f.unmap = nil
	f.data = nil
	return u()
}

// Get returns the value of key. Files from Open and Parse are safe for
// concurrent reads.
func (f *File) Get(key string) (any, bool) {
	if f.keys == nil {
		f.index()
	}
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns a value of any integer type that is non-negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := asInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// Int returns a value of any integer type that fits in an int64.
func (f *File) Int(key string) (int64, bool) {
	v, _ := f.Get(key)
	return asInt(v)
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Float returns a float32, float64 or integer value as a float64.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case uint64:
		return float64(x), true
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// Strings returns a string array. The slice aliases the File's value.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Get(key)
	s, ok := v.([]string)
	return s, ok
}

// Float32s returns a float32 array. The slice aliases the File's value.
func (f *File) Float32s(key string) ([]float32, bool) {
	v, _ := f.Get(key)
	s, ok := v.([]float32)
	return s, ok
}

// Int32s returns an int32 array (aliasing the File's value), or a copy of
// another integer array whose every element fits in an int32.
func (f *File) Int32s(key string) ([]int32, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case []int32:
		return x, true
	case []uint8:
		return convInt32(x)
	case []int8:
		return convInt32(x)
	case []uint16:
		return convInt32(x)
	case []int16:
		return convInt32(x)
	case []uint32:
		return convInt32(x)
	case []uint64:
		return convInt32(x)
	case []int64:
		return convInt32(x)
	}
	return nil, false
}

func convInt32[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](s []T) ([]int32, bool) {
	out := make([]int32, len(s))
	for i, x := range s {
		if int64(x) < math.MinInt32 || int64(x) > math.MaxInt32 || (x > 0 && uint64(x) > math.MaxInt32) {
			return nil, false
		}
		out[i] = int32(x)
	}
	return out, true
}

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	if f.tensors == nil {
		f.index()
	}
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Data returns a zero-copy view of t's bytes, or nil when t lies outside
// the file's data (which Open and Parse rule out for the File's own
// tensors) or the File is closed. For a File from Open the view aliases
// the read-only mapping (writing to it faults) and is invalid after Close;
// for a File from Parse it aliases the parsed slice.
func (f *File) Data(t *TensorInfo) []byte {
	if t == nil || f.data == nil || t.Offset < 0 || t.Bytes < 0 {
		return nil
	}
	start := f.DataOffset + t.Offset
	if start < f.DataOffset || start > int64(len(f.data)) || t.Bytes > int64(len(f.data))-start {
		return nil
	}
	return f.data[start : start+t.Bytes : start+t.Bytes]
}

// index builds the key and tensor lookup maps (first occurrence wins).
func (f *File) index() {
	f.keys = make(map[string]int, len(f.KV))
	for i := range f.KV {
		if _, dup := f.keys[f.KV[i].Key]; !dup {
			f.keys[f.KV[i].Key] = i
		}
	}
	f.tensors = make(map[string]int, len(f.Tensors))
	for i := range f.Tensors {
		if _, dup := f.tensors[f.Tensors[i].Name]; !dup {
			f.tensors[f.Tensors[i].Name] = i
		}
	}
}
