package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unicode/utf8"
)

// Writer builds a GGUF version 3 file. Metadata and tensors are written in
// the order they were added, so the output is deterministic. The output
// loads in llama.cpp as long as no metadata value is an array of arrays
// (which llama.cpp's reader does not support) and tensors carry the keys
// and names llama.cpp expects.
type Writer struct {
	kv        []KV
	keys      map[string]bool
	tensors   []writerTensor
	names     map[string]bool
	alignment int64
}

type writerTensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns an empty Writer. Tensor data is aligned to 32 bytes
// unless a "general.alignment" KV (a uint32 power of two) is added.
func NewWriter() *Writer {
	return &Writer{keys: map[string]bool{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// AddKV adds a metadata entry. value must have one of the Go types listed
// at KV (Go's int, uint and float types without a size are rejected: the
// GGUF type would be ambiguous). Keys must be non-empty, valid UTF-8 and
// unique.
func (w *Writer) AddKV(key string, value any) error {
	if key == "" || !utf8.ValidString(key) {
		return fmt.Errorf("gguf: invalid metadata key %q", key)
	}
	if w.keys[key] {
		return fmt.Errorf("gguf: duplicate metadata key %q", key)
	}
	if err := checkValue(value, 0); err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %T %v", value, value)
		}
		if len(w.tensors) > 0 {
			return fmt.Errorf("gguf: general.alignment must be added before any tensor")
		}
		w.alignment = int64(a)
	}
	w.keys[key] = true
	w.kv = append(w.kv, KV{key, value})
	return nil
}

// valueType returns the GGUF type id of a scalar value, or of an array's
// elements with isArray set.
func valueType(v any) (typ uint32, isArray bool, ok bool) {
	switch v.(type) {
	case uint8:
		return valUint8, false, true
	case int8:
		return valInt8, false, true
	case uint16:
		return valUint16, false, true
	case int16:
		return valInt16, false, true
	case uint32:
		return valUint32, false, true
	case int32:
		return valInt32, false, true
	case float32:
		return valFloat32, false, true
	case bool:
		return valBool, false, true
	case string:
		return valString, false, true
	case uint64:
		return valUint64, false, true
	case int64:
		return valInt64, false, true
	case float64:
		return valFloat64, false, true
	case []uint8:
		return valUint8, true, true
	case []int8:
		return valInt8, true, true
	case []uint16:
		return valUint16, true, true
	case []int16:
		return valInt16, true, true
	case []uint32:
		return valUint32, true, true
	case []int32:
		return valInt32, true, true
	case []float32:
		return valFloat32, true, true
	case []bool:
		return valBool, true, true
	case []string:
		return valString, true, true
	case []uint64:
		return valUint64, true, true
	case []int64:
		return valInt64, true, true
	case []float64:
		return valFloat64, true, true
	case []any:
		return valArray, true, true
	}
	return 0, false, false
}

// checkValue checks that v is a metadata value Writer can encode, and that
// every element of an array of arrays is itself an array.
func checkValue(v any, depth int) error {
	if _, _, ok := valueType(v); !ok {
		return fmt.Errorf("unsupported value type %T", v)
	}
	outer, ok := v.([]any)
	if !ok {
		return nil
	}
	if depth+1 >= maxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	for i, e := range outer {
		if _, arr, ok := valueType(e); !ok || !arr {
			return fmt.Errorf("element %d of an array of arrays is %T, not an array", i, e)
		}
		if err := checkValue(e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// AddTensor adds a tensor. shape is in GGUF order (shape[0] contiguous);
// data must be exactly the tensor's byte size and is not copied: it must
// not change until WriteTo returns.
func (w *Writer) AddTensor(name string, t Type, shape []int64, data []byte) error {
	if name == "" || len(name) > MaxNameBytes || !utf8.ValidString(name) {
		return fmt.Errorf("gguf: invalid tensor name %q (1–%d bytes of UTF-8)", name, MaxNameBytes)
	}
	if w.names[name] {
		return fmt.Errorf("gguf: duplicate tensor name %q", name)
	}
	if !t.Known() {
		return fmt.Errorf("gguf: tensor %q: %w: unknown type %d", name, ErrUnsupported, uint32(t))
	}
	if len(shape) == 0 || len(shape) > MaxDims {
		return fmt.Errorf("gguf: tensor %q has %d dimensions, want 1–%d", name, len(shape), MaxDims)
	}
	elems := int64(1)
	for i, d := range shape {
		if d <= 0 || elems > math.MaxInt64/d {
			return fmt.Errorf("gguf: tensor %q has bad dimension %d = %d", name, i, d)
		}
		elems *= d
	}
	rb, err := rowBytes64(t, shape[0])
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	rows := elems / shape[0]
	if rows > math.MaxInt64/rb || rows*rb != int64(len(data)) {
		return fmt.Errorf("gguf: tensor %q %s %v needs %d bytes, got %d", name, t, shape, rows*rb, len(data))
	}
	var off int64
	if n := len(w.tensors); n > 0 {
		last := w.tensors[n-1].info
		off = alignUp(last.Offset+last.Bytes, w.alignment)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{
		info: TensorInfo{Name: name, Type: t, Shape: append([]int64(nil), shape...), Offset: off, Bytes: int64(len(data))},
		data: data,
	})
	return nil
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := &encoder{w: cw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		typ, isArray, _ := valueType(kv.Value)
		if isArray {
			e.u32(valArray)
		} else {
			e.u32(typ)
		}
		e.value(kv.Value)
	}
	for _, t := range w.tensors {
		e.str(t.info.Name)
		e.u32(uint32(len(t.info.Shape)))
		for _, d := range t.info.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.info.Type))
		e.u64(uint64(t.info.Offset))
	}
	if len(w.tensors) > 0 {
		e.pad(w.alignment)
	}
	base := cw.n
	for _, t := range w.tensors {
		e.zeros(base + t.info.Offset - cw.n)
		e.raw(t.data)
	}
	if len(w.tensors) > 0 {
		e.pad(w.alignment)
	}
	if e.err == nil {
		e.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, e.err
}

// WriteFile writes the file to path (created or truncated).
func (w *Writer) WriteFile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian GGUF primitives, keeping the first error.
type encoder struct {
	w   *countWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8)   { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.raw(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.raw(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.raw(e.buf[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *encoder) zeros(n int64) {
	var z [64]byte
	for n > 0 {
		k := min(n, int64(len(z)))
		e.raw(z[:k])
		n -= k
	}
}

func (e *encoder) pad(a int64) { e.zeros(alignUp(e.w.n, a) - e.w.n) }

func (e *encoder) bool(b bool) {
	if b {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// value writes v's payload (without its type id); arrays write their
// element type and length first.
func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.bool(x)
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case []uint8:
		e.arrayHeader(valUint8, len(x))
		e.raw(x)
	case []int8:
		writeArray(e, valInt8, x, func(v int8) { e.u8(uint8(v)) })
	case []uint16:
		writeArray(e, valUint16, x, e.u16)
	case []int16:
		writeArray(e, valInt16, x, func(v int16) { e.u16(uint16(v)) })
	case []uint32:
		writeArray(e, valUint32, x, e.u32)
	case []int32:
		writeArray(e, valInt32, x, func(v int32) { e.u32(uint32(v)) })
	case []float32:
		writeArray(e, valFloat32, x, func(v float32) { e.u32(math.Float32bits(v)) })
	case []bool:
		writeArray(e, valBool, x, e.bool)
	case []string:
		writeArray(e, valString, x, e.str)
	case []uint64:
		writeArray(e, valUint64, x, e.u64)
	case []int64:
		writeArray(e, valInt64, x, func(v int64) { e.u64(uint64(v)) })
	case []float64:
		writeArray(e, valFloat64, x, func(v float64) { e.u64(math.Float64bits(v)) })
	case []any:
		writeArray(e, valArray, x, e.value)
	}
}

func (e *encoder) arrayHeader(typ uint32, n int) {
	e.u32(typ)
	e.u64(uint64(n))
}

func writeArray[T any](e *encoder, typ uint32, s []T, put func(T)) {
	e.arrayHeader(typ, len(s))
	for _, v := range s {
		put(v)
	}
}

// Bytes returns the file as a byte slice (for tests and small files).
func (w *Writer) Bytes() ([]byte, error) {
	var b bytes.Buffer
	_, err := w.WriteTo(&b)
	return b.Bytes(), err
}
