package gguf

import (
	"fmt"
	"math/bits"
	"strings"
)

// Type is a ggml tensor element type, numbered as ggml's enum ggml_type.
type Type uint32

// The ggml types. Ids 4, 5, 31–33 and 36–38 were removed from ggml (llama.cpp
// rejects them in files) and are not Known.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
	TypeNVFP4   Type = 40
	TypeQ1_0    Type = 41
	TypeQ2_0    Type = 42
)

// QK_K is the super-block size of the k-quant and most i-quant types.
const qkK = 256

type typeTraits struct {
	name       string
	blockSize  int // elements per block
	blockBytes int // bytes per block
}

// typeTable holds block size and block bytes for every known type, as in
// ggml's type_traits (block structs in ggml-common.h).
var typeTable = map[Type]typeTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 2 + 16},
	TypeQ4_1:    {"Q4_1", 32, 4 + 16},
	TypeQ5_0:    {"Q5_0", 32, 2 + 4 + 16},
	TypeQ5_1:    {"Q5_1", 32, 4 + 4 + 16},
	TypeQ8_0:    {"Q8_0", 32, 2 + 32},
	TypeQ8_1:    {"Q8_1", 32, 4 + 32},
	TypeQ2_K:    {"Q2_K", qkK, 16 + 64 + 4},
	TypeQ3_K:    {"Q3_K", qkK, 32 + 64 + 12 + 2},
	TypeQ4_K:    {"Q4_K", qkK, 4 + 12 + 128},
	TypeQ5_K:    {"Q5_K", qkK, 4 + 12 + 32 + 128},
	TypeQ6_K:    {"Q6_K", qkK, 128 + 64 + 16 + 2},
	TypeQ8_K:    {"Q8_K", qkK, 4 + 256 + 32},
	TypeIQ2_XXS: {"IQ2_XXS", qkK, 2 + 64},
	TypeIQ2_XS:  {"IQ2_XS", qkK, 2 + 64 + 8},
	TypeIQ3_XXS: {"IQ3_XXS", qkK, 2 + 96},
	TypeIQ1_S:   {"IQ1_S", qkK, 2 + 32 + 16},
	TypeIQ4_NL:  {"IQ4_NL", 32, 2 + 16},
	TypeIQ3_S:   {"IQ3_S", qkK, 2 + 64 + 8 + 32 + 4},
	TypeIQ2_S:   {"IQ2_S", qkK, 2 + 64 + 8 + 8},
	TypeIQ4_XS:  {"IQ4_XS", qkK, 2 + 2 + 4 + 128},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", qkK, 32 + 16 + 8},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", qkK, 48 + 4 + 2},
	TypeTQ2_0:   {"TQ2_0", qkK, 64 + 2},
	TypeMXFP4:   {"MXFP4", 32, 1 + 16},
	TypeNVFP4:   {"NVFP4", 64, 4 + 32},
	TypeQ1_0:    {"Q1_0", 128, 2 + 16},
	TypeQ2_0:    {"Q2_0", 64, 2 + 16},
}

// typeIndex is typeTable as an array indexed by id (ids below 64), for the
// lookups on hot paths (row sizes are asked for per matrix row).
var typeIndex = func() (a [64]struct {
	typeTraits
	ok bool
}) {
	for t, tr := range typeTable {
		if t < 64 {
			a[t].typeTraits, a[t].ok = tr, true
		}
	}
	return a
}()

// traits returns t's layout and whether t is known.
func traits(t Type) (typeTraits, bool) {
	if t < 64 {
		e := &typeIndex[t]
		return e.typeTraits, e.ok
	}
	tr, ok := typeTable[t]
	return tr, ok
}

// Types returns every known type in id order.
func Types() []Type {
	var ts []Type
	for t := Type(0); t < 64; t++ {
		if t.Known() {
			ts = append(ts, t)
		}
	}
	return ts
}

// String returns llama.cpp's upper-case name ("F32", "Q4_K"), or
// "type(N)" for an unknown id.
func (t Type) String() string {
	if tr, ok := traits(t); ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ParseType parses a type name case-insensitively ("f16", "q8_0", "Q4_K").
func ParseType(s string) (Type, error) {
	for t, tr := range typeTable {
		if strings.EqualFold(tr.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type %q", s)
}

// Known reports whether t is a ggml type this package knows the layout of.
func (t Type) Known() bool {
	_, ok := traits(t)
	return ok
}

// BlockSize returns the number of elements per block (1 for F32, F16,
// BF16 and the integer types), or 0 for an unknown type.
func (t Type) BlockSize() int { tr, _ := traits(t); return tr.blockSize }

// BlockBytes returns the number of bytes per block, or 0 for an unknown
// type.
func (t Type) BlockBytes() int { tr, _ := traits(t); return tr.blockBytes }

// CanDequantize reports whether Dequantize and DequantizeF64 support t.
func (t Type) CanDequantize() bool {
	_, ok := dequantizers[t]
	return ok
}

// CanQuantize reports whether Quantize supports t.
func (t Type) CanQuantize() bool {
	_, ok := quantizers[t]
	return ok
}

// RowBytes returns the byte size of n elements of type t. n must be a
// non-negative multiple of t.BlockSize().
func RowBytes(t Type, n int) (int, error) {
	b, err := rowBytes64(t, int64(n))
	return int(b), err
}

// rowBytes64 is RowBytes in int64 with overflow checking.
func rowBytes64(t Type, n int64) (int64, error) {
	tr, ok := traits(t)
	if !ok {
		return 0, fmt.Errorf("%w: unknown tensor type %d", ErrUnsupported, uint32(t))
	}
	blocks := n
	if tr.blockSize != 1 { // asked per matrix row: no division when none is needed
		blocks = n / int64(tr.blockSize)
	}
	if n < 0 || blocks*int64(tr.blockSize) != n {
		return 0, fmt.Errorf("gguf: %d elements of %s is not a multiple of the block size %d", n, tr.name, tr.blockSize)
	}
	hi, lo := bits.Mul64(uint64(blocks), uint64(tr.blockBytes))
	if hi != 0 || lo > uint64(maxInt64) {
		return 0, fmt.Errorf("gguf: %d elements of %s overflow int64 bytes", n, tr.name)
	}
	return int64(lo), nil
}

const maxInt64 = int64(^uint64(0) >> 1)
