package gguf

import (
	"encoding/binary"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when a file has no
// general.alignment key.
const DefaultAlignment = 32

// Limits of the format as llama.cpp enforces them.
const (
	// MaxDims is the largest number of tensor dimensions (GGML_MAX_DIMS).
	MaxDims = 4
	// MaxNameBytes is the longest tensor name llama.cpp accepts (its
	// GGML_MAX_NAME is 64 including the terminating NUL).
	MaxNameBytes = 63
	// maxArrayDepth bounds arrays of arrays so a crafted file cannot
	// recurse without limit.
	maxArrayDepth = 8
	// initialCap bounds capacity taken from counts in the file.
	initialCap = 1 << 16
)

// GGUF metadata value type ids.
const (
	valUint8   = 0
	valInt8    = 1
	valUint16  = 2
	valInt16   = 3
	valUint32  = 4
	valInt32   = 5
	valFloat32 = 6
	valBool    = 7
	valString  = 8
	valArray   = 9
	valUint64  = 10
	valInt64   = 11
	valFloat64 = 12
)

var valTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// valSize returns the fixed encoded size of a scalar value type, or the
// minimum encoded size for string (8) and array (12).
func valSize(t uint32) int64 {
	switch t {
	case valUint8, valInt8, valBool:
		return 1
	case valUint16, valInt16:
		return 2
	case valUint32, valInt32, valFloat32:
		return 4
	case valUint64, valInt64, valFloat64, valString:
		return 8
	case valArray:
		return 12
	}
	return 0
}

// Parse parses a GGUF file held in data. The File's tensor views (Data)
// alias data; strings and metadata arrays are copied.
func Parse(data []byte) (*File, error) {
	r := &reader{b: data}
	return r.parse()
}

type reader struct {
	b   []byte
	pos int64
}

func (r *reader) remaining() int64 { return int64(len(r.b)) - r.pos }

// need checks that n more bytes are present before anything is read.
func (r *reader) need(n int64, what string) error {
	if n < 0 || n > r.remaining() {
		return malformed("truncated %s at offset %d: need %d bytes, %d left", what, r.pos, n, r.remaining())
	}
	return nil
}

func (r *reader) next(n int64) []byte {
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s
}

func (r *reader) u32(what string) (uint32, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(r.next(4)), nil
}

func (r *reader) u64(what string) (uint64, error) {
	if err := r.need(8, what); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r.next(8)), nil
}

// str reads a length-prefixed string, checking the length against the
// bytes left before allocating.
func (r *reader) str(what string) (string, error) {
	at := r.pos
	n, err := r.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(r.remaining()) {
		return "", malformed("%s at offset %d has length %d but only %d bytes are left", what, at, n, r.remaining())
	}
	return string(r.next(int64(n))), nil
}

// strElem is str for element i of a string array, without building a
// description unless there is an error (vocabularies have ~10^5 strings).
func (r *reader) strElem(key string, i int) (string, error) {
	if r.remaining() < 8 {
		return r.str("string " + itoa(uint64(i)) + " of key " + quote(key))
	}
	n := binary.LittleEndian.Uint64(r.b[r.pos:])
	if n > uint64(r.remaining()-8) {
		return r.str("string " + itoa(uint64(i)) + " of key " + quote(key))
	}
	r.pos += 8
	return string(r.next(int64(n))), nil
}

func (r *reader) parse() (*File, error) {
	if err := r.need(4, "magic"); err != nil {
		return nil, err
	}
	if m := string(r.next(4)); m != Magic {
		return nil, malformed("bad magic %q, want %q", m, Magic)
	}
	version, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 1:
		return nil, unsupported("version 1 is not supported")
	case version == 2 || version == 3:
	case version&0xffff == 0 && version != 0:
		return nil, unsupported("version %d is not supported (a big-endian file?)", version)
	default:
		return nil, unsupported("version %d is not supported", version)
	}
	nTensors, err := r.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := r.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// Each KV takes at least 13 bytes (key length, value type, one byte of
	// value); each tensor info at least 24. Check before allocating.
	const minKV, minTensor = 13, 24
	left := uint64(r.remaining())
	if nKV > left/minKV {
		return nil, malformed("metadata count %d does not fit in the %d bytes left", nKV, left)
	}
	if nTensors > left/minTensor || nKV*minKV+nTensors*minTensor > left {
		return nil, malformed("tensor count %d does not fit in the %d bytes left", nTensors, left)
	}
	// The counts fit the bytes present, but a large file (mostly tensor
	// data) could still claim millions of entries: grow as entries are
	// actually parsed instead of trusting the counts for capacity.
	f := &File{
		Version: version,
		KV:      make([]KV, 0, min(nKV, initialCap)),
		Tensors: make([]TensorInfo, 0, min(nTensors, initialCap)),
		Size:    int64(len(r.b)),
		keys:    make(map[string]int, min(nKV, initialCap)),
		tensors: make(map[string]int, min(nTensors, initialCap)),
		data:    r.b,
	}
	for i := uint64(0); i < nKV; i++ {
		if err := r.kv(f, i); err != nil {
			return nil, err
		}
	}
	if err := f.setAlignment(); err != nil {
		return nil, err
	}
	for i := uint64(0); i < nTensors; i++ {
		if err := r.tensorInfo(f, i); err != nil {
			return nil, err
		}
	}
	// Like llama.cpp, a file without tensors has no (padded) data section:
	// its data offset is the end of the header.
	f.DataOffset = r.pos
	if nTensors > 0 {
		f.DataOffset = alignUp(r.pos, f.Alignment)
	}
	if err := f.checkTensorData(); err != nil {
		return nil, err
	}
	return f, nil
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }

func (r *reader) kv(f *File, i uint64) error {
	at := r.pos
	key, err := r.str("key of metadata entry " + itoa(i))
	if err != nil {
		return err
	}
	if key == "" {
		return malformed("metadata entry %d at offset %d has an empty key", i, at)
	}
	if !utf8.ValidString(key) {
		return malformed("metadata key %q at offset %d is not valid UTF-8", key, at)
	}
	if _, dup := f.keys[key]; dup {
		return malformed("duplicate metadata key %q at offset %d", key, at)
	}
	typ, err := r.u32("value type of key " + quote(key))
	if err != nil {
		return err
	}
	v, err := r.value(key, typ, 0)
	if err != nil {
		return err
	}
	f.keys[key] = len(f.KV)
	f.KV = append(f.KV, KV{Key: key, Value: v})
	return nil
}

// value reads one value of type typ for key; depth counts array nesting.
func (r *reader) value(key string, typ uint32, depth int) (any, error) {
	what := "value of key " + quote(key)
	if typ == valArray {
		return r.array(key, depth)
	}
	if typ == valString {
		return r.str(what)
	}
	n := valSize(typ)
	if n == 0 {
		return nil, malformed("key %q has unknown value type %d at offset %d", key, typ, r.pos-4)
	}
	if err := r.need(n, what); err != nil {
		return nil, err
	}
	b := r.next(n)
	le := binary.LittleEndian
	switch typ {
	case valUint8:
		return b[0], nil
	case valInt8:
		return int8(b[0]), nil
	case valUint16:
		return le.Uint16(b), nil
	case valInt16:
		return int16(le.Uint16(b)), nil
	case valUint32:
		return le.Uint32(b), nil
	case valInt32:
		return int32(le.Uint32(b)), nil
	case valFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case valUint64:
		return le.Uint64(b), nil
	case valInt64:
		return int64(le.Uint64(b)), nil
	case valFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	default: // valBool
		if b[0] > 1 {
			return nil, malformed("key %q has bool byte %d at offset %d (want 0 or 1)", key, b[0], r.pos-1)
		}
		return b[0] == 1, nil
	}
}

func (r *reader) array(key string, depth int) (any, error) {
	if depth >= maxArrayDepth {
		return nil, malformed("key %q: arrays nested deeper than %d at offset %d", key, maxArrayDepth, r.pos)
	}
	at := r.pos
	elem, err := r.u32("array element type of key " + quote(key))
	if err != nil {
		return nil, err
	}
	size := valSize(elem)
	if size == 0 {
		return nil, malformed("key %q has unknown array element type %d at offset %d", key, elem, at)
	}
	n64, err := r.u64("array length of key " + quote(key))
	if err != nil {
		return nil, err
	}
	if n64 > uint64(r.remaining()/size) {
		return nil, malformed("key %q: array of %d %s at offset %d does not fit in the %d bytes left", key, n64, valTypeNames[elem], at, r.remaining())
	}
	n := int(n64)
	// Strings and nested arrays take more memory than their minimum
	// encoded size, so their slices grow as elements are parsed; fixed-size
	// elements decode from bytes known to be present.
	switch elem {
	case valString:
		out := make([]string, 0, min(n, initialCap))
		for i := 0; i < n; i++ {
			s, err := r.strElem(key, i)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case valArray:
		out := make([]any, 0, min(n, initialCap))
		for i := 0; i < n; i++ {
			v, err := r.array(key, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	b := r.next(int64(n) * size)
	le := binary.LittleEndian
	switch elem {
	case valUint8:
		return append([]uint8(nil), b...)[:n:n], nil
	case valInt8:
		return decode(b, 1, func(p []byte) int8 { return int8(p[0]) }), nil
	case valUint16:
		return decode(b, 2, le.Uint16), nil
	case valInt16:
		return decode(b, 2, func(p []byte) int16 { return int16(le.Uint16(p)) }), nil
	case valUint32:
		return decode(b, 4, le.Uint32), nil
	case valInt32:
		return decode(b, 4, func(p []byte) int32 { return int32(le.Uint32(p)) }), nil
	case valFloat32:
		return decode(b, 4, func(p []byte) float32 { return math.Float32frombits(le.Uint32(p)) }), nil
	case valUint64:
		return decode(b, 8, le.Uint64), nil
	case valInt64:
		return decode(b, 8, func(p []byte) int64 { return int64(le.Uint64(p)) }), nil
	case valFloat64:
		return decode(b, 8, func(p []byte) float64 { return math.Float64frombits(le.Uint64(p)) }), nil
	default: // valBool
		out := make([]bool, n)
		for i, c := range b {
			if c > 1 {
				return nil, malformed("key %q: bool element %d is byte %d (want 0 or 1)", key, i, c)
			}
			out[i] = c == 1
		}
		return out, nil
	}
}

func decode[T any](b []byte, size int, f func([]byte) T) []T {
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = f(b[i*size:])
	}
	return out
}

// setAlignment reads general.alignment: any non-negative integer type that
// is a non-zero power of two.
func (f *File) setAlignment() error {
	f.Alignment = DefaultAlignment
	v, ok := f.Get("general.alignment")
	if !ok {
		return nil
	}
	a, ok := asInt(v)
	if !ok {
		return malformed("general.alignment has type %T, want an integer", v)
	}
	if a <= 0 || a&(a-1) != 0 || a > 1<<30 {
		return malformed("general.alignment %d is not a power of two", a)
	}
	f.Alignment = a
	return nil
}

func (r *reader) tensorInfo(f *File, i uint64) error {
	at := r.pos
	name, err := r.str("name of tensor " + itoa(i))
	if err != nil {
		return err
	}
	if len(name) > MaxNameBytes {
		return malformed("tensor %d name %q at offset %d is too long: %d bytes > %d", i, name, at, len(name), MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		return malformed("tensor %d name %q at offset %d is not valid UTF-8", i, name, at)
	}
	if _, dup := f.tensors[name]; dup {
		return malformed("duplicate tensor name %q at offset %d", name, at)
	}
	nDims, err := r.u32("dimension count of tensor " + quote(name))
	if err != nil {
		return err
	}
	if nDims > MaxDims {
		return malformed("tensor %q has %d dimensions, more than %d", name, nDims, MaxDims)
	}
	shape := make([]int64, nDims)
	elems := int64(1)
	for d := range shape {
		u, err := r.u64("dimension of tensor " + quote(name))
		if err != nil {
			return err
		}
		if u == 0 || u > math.MaxInt64 {
			return malformed("tensor %q dimension %d is %d", name, d, int64(u))
		}
		shape[d] = int64(u)
		if elems > math.MaxInt64/shape[d] {
			return malformed("tensor %q shape %v overflows int64 elements", name, shape[:d+1])
		}
		elems *= shape[d]
	}
	typ, err := r.u32("type of tensor " + quote(name))
	if err != nil {
		return err
	}
	t := Type(typ)
	if !t.Known() {
		return unsupported("tensor %q has unknown ggml type %d", name, typ)
	}
	ne0 := int64(1)
	if nDims > 0 {
		ne0 = shape[0]
	}
	if ne0%int64(t.BlockSize()) != 0 {
		return malformed("tensor %q of type %s has %d elements per row, not a multiple of the block size %d", name, t, ne0, t.BlockSize())
	}
	rowBytes, err := rowBytes64(t, ne0)
	if err != nil {
		return malformed("tensor %q: %v", name, err)
	}
	rows := elems / ne0
	if rows > math.MaxInt64/rowBytes {
		return malformed("tensor %q shape %v overflows int64 bytes", name, shape)
	}
	off, err := r.u64("data offset of tensor " + quote(name))
	if err != nil {
		return err
	}
	if off > math.MaxInt64 {
		return malformed("tensor %q data offset %d overflows int64", name, off)
	}
	if int64(off)%f.Alignment != 0 {
		return malformed("tensor %q data offset %d is not a multiple of the alignment %d", name, off, f.Alignment)
	}
	f.tensors[name] = len(f.Tensors)
	f.Tensors = append(f.Tensors, TensorInfo{Name: name, Type: t, Shape: shape, Offset: int64(off), Bytes: rows * rowBytes})
	return nil
}

// checkTensorData checks that every tensor lies inside the file and that
// no two tensors overlap.
func (f *File) checkTensorData() error {
	if len(f.Tensors) == 0 {
		return nil
	}
	if f.DataOffset > f.Size {
		return malformed("tensor data section starts at %d, past the end of the %d-byte file", f.DataOffset, f.Size)
	}
	avail := f.Size - f.DataOffset
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
		t := &f.Tensors[i]
		if t.Offset > avail || t.Bytes > avail-t.Offset {
			return malformed("tensor %q data [%d, %d) lies outside the %d-byte data section", t.Name, t.Offset, uint64(t.Offset)+uint64(t.Bytes), avail)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, c := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if p.Offset+p.Bytes > c.Offset {
			return malformed("tensors %q [%d, %d) and %q [%d, %d) overlap", p.Name, p.Offset, p.Offset+p.Bytes, c.Name, c.Offset, c.Offset+c.Bytes)
		}
	}
	return nil
}

func itoa(i uint64) string { return strconv.FormatUint(i, 10) }

func quote(s string) string { return strconv.Quote(s) }
