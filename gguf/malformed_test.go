package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// hb builds GGUF bytes by hand.
type hb struct{ bytes.Buffer }

func (b *hb) u32(v uint32) *hb  { binary.Write(&b.Buffer, binary.LittleEndian, v); return b }
func (b *hb) u64(v uint64) *hb  { binary.Write(&b.Buffer, binary.LittleEndian, v); return b }
func (b *hb) str(s string) *hb  { b.u64(uint64(len(s))); b.WriteString(s); return b }
func (b *hb) raw(p ...byte) *hb { b.Write(p); return b }

// header writes magic, version 3 and the two counts.
func header(nTensors, nKV uint64) *hb {
	b := &hb{}
	b.WriteString("GGUF")
	return b.u32(3).u64(nTensors).u64(nKV)
}

// kvU32 writes one uint32 metadata entry.
func (b *hb) kvU32(key string, v uint32) *hb { return b.str(key).u32(valUint32).u32(v) }

// tensor writes one tensor info.
func (b *hb) tensor(name string, typ Type, off uint64, dims ...uint64) *hb {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(uint32(typ)).u64(off)
}

// withData pads to 32 and appends n zero bytes of tensor data.
func (b *hb) withData(n int) []byte {
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, n))
	return b.Bytes()
}

type malformedCase struct {
	name string
	data []byte
	kind error  // ErrMalformed or ErrUnsupported
	want string // substring of the error message
}

func malformedCases(t testing.TB) []malformedCase {
	valid := tinyFile(t, []KV{{"general.architecture", "llama"}})
	nested := header(0, 1).str("deep").u32(valArray)
	for i := 0; i < 100; i++ {
		nested.u32(valArray).u64(1)
	}
	nested.u32(valUint8).u64(0)
	bigEndian := &hb{}
	bigEndian.WriteString("GGUF")
	bigEndian.raw(0, 0, 0, 3).u64(0).u64(0)
	return []malformedCase{
		{"empty file", nil, ErrMalformed, "truncated magic at offset 0"},
		{"bad magic", append([]byte("GGML"), valid[4:]...), ErrMalformed, `bad magic "GGML"`},
		{"version 1", append(append([]byte("GGUF"), 1, 0, 0, 0), valid[8:]...), ErrUnsupported, "gguf: version 1 is not supported"},
		{"version 99", append(append([]byte("GGUF"), 99, 0, 0, 0), valid[8:]...), ErrUnsupported, "version 99 is not supported"},
		{"big-endian", bigEndian.Bytes(), ErrUnsupported, "big-endian"},
		{"truncated header", valid[:12], ErrMalformed, "truncated tensor count at offset 8"},
		{"truncated KV", header(0, 1).str("k").u32(valUint64).raw(1, 2, 3).Bytes(), ErrMalformed, `truncated value of key "k" at offset 37: need 8 bytes, 3 left`},
		{"truncated tensor info", header(1, 0).str("w").u32(3).u64(4).u64(4).Bytes(), ErrMalformed, `truncated dimension of tensor "w" at offset 53`},
		{"huge KV count", header(0, 1<<60).Bytes(), ErrMalformed, "metadata count 1152921504606846976 does not fit"},
		{"huge tensor count", header(1<<60, 0).Bytes(), ErrMalformed, "tensor count 1152921504606846976 does not fit"},
		{"huge key length", header(0, 1).u64(1 << 62).raw(make([]byte, 20)...).Bytes(), ErrMalformed, "key of metadata entry 0 at offset 24 has length 4611686018427387904"},
		{"huge string length", header(0, 1).str("k").u32(valString).u64(1 << 62).raw(make([]byte, 20)...).Bytes(), ErrMalformed, `value of key "k" at offset 37 has length 4611686018427387904`},
		{"huge array length", header(0, 1).str("k").u32(valArray).u32(valUint32).u64(1 << 61).raw(make([]byte, 20)...).Bytes(), ErrMalformed, `key "k": array of 2305843009213693952 uint32`},
		{"array depth bomb", nested.Bytes(), ErrMalformed, `key "deep": arrays nested deeper than 8`},
		{"unknown value type", header(0, 1).str("k").u32(13).u32(0).Bytes(), ErrMalformed, `key "k" has unknown value type 13`},
		{"unknown array element type", header(0, 1).str("k").u32(valArray).u32(77).u64(0).Bytes(), ErrMalformed, `key "k" has unknown array element type 77`},
		{"bool not 0 or 1", header(0, 1).str("k").u32(valBool).raw(2).Bytes(), ErrMalformed, `key "k" has bool byte 2`},
		{"empty key", header(0, 1).str("").u32(valUint8).raw(0).Bytes(), ErrMalformed, "metadata entry 0 at offset 24 has an empty key"},
		{"non-UTF-8 key", header(0, 1).str("a\xff").u32(valUint8).raw(0).Bytes(), ErrMalformed, `metadata key "a\xff" at offset 24 is not valid UTF-8`},
		{"duplicate key", header(0, 2).kvU32("k", 1).kvU32("k", 2).Bytes(), ErrMalformed, `duplicate metadata key "k"`},
		{"alignment 0", header(0, 1).kvU32("general.alignment", 0).Bytes(), ErrMalformed, "general.alignment 0 is not a power of two"},
		{"alignment 3", header(0, 1).kvU32("general.alignment", 3).Bytes(), ErrMalformed, "general.alignment 3 is not a power of two"},
		{"alignment string", header(0, 1).str("general.alignment").u32(valString).str("32").Bytes(), ErrMalformed, "general.alignment has type string"},
		{"unknown ggml type", header(1, 0).tensor("w", Type(1000), 0, 4).withData(32), ErrUnsupported, `tensor "w" has unknown ggml type 1000`},
		{"removed ggml type", header(1, 0).tensor("w", Type(4), 0, 32).withData(32), ErrUnsupported, `tensor "w" has unknown ggml type 4`},
		{"duplicate tensor name", header(2, 0).tensor("w", TypeF32, 0, 4).tensor("w", TypeF32, 32, 4).withData(64), ErrMalformed, `duplicate tensor name "w"`},
		{"dims overflow int64", header(1, 0).tensor("w", TypeF32, 0, 1<<32, 1<<32).withData(32), ErrMalformed, `tensor "w" shape [4294967296 4294967296] overflows int64 elements`},
		{"bytes overflow int64", header(1, 0).tensor("w", TypeF32, 0, 1<<62).withData(32), ErrMalformed, `tensor "w"`},
		{"negative dimension", header(1, 0).tensor("w", TypeF32, 0, 1<<63).withData(32), ErrMalformed, `tensor "w" dimension 0 is -9223372036854775808`},
		{"n_dims 5", header(1, 0).tensor("w", TypeF32, 0, 1, 1, 1, 1, 4).withData(32), ErrMalformed, `tensor "w" has 5 dimensions, more than 4`},
		{"zero dimension", header(1, 0).tensor("w", TypeF32, 0, 4, 0).withData(32), ErrMalformed, `tensor "w" dimension 1 is 0`},
		{"tensor data out of file", header(1, 0).tensor("w", TypeF32, 0, 16).withData(32), ErrMalformed, `tensor "w" data [0, 64) lies outside the 32-byte data section`},
		{"tensor offset far out of file", header(1, 0).tensor("w", TypeF32, 1<<40, 4).withData(32), ErrMalformed, `tensor "w" data [1099511627776, 1099511627792) lies outside`},
		{"overlapping tensors", header(2, 0).tensor("a", TypeF32, 0, 16).tensor("b", TypeF32, 32, 16).withData(128), ErrMalformed, `tensors "a" [0, 64) and "b" [32, 96) overlap`},
		{"misaligned tensor offset", header(1, 0).tensor("w", TypeF32, 4, 4).withData(64), ErrMalformed, `tensor "w" data offset 4 is not a multiple of the alignment 32`},
		{"row not a multiple of block size", header(1, 0).tensor("w", TypeQ8_0, 0, 16).withData(64), ErrMalformed, `tensor "w" of type Q8_0 has 16 elements per row, not a multiple of the block size 32`},
		{"tensor name too long", header(1, 0).tensor(strings.Repeat("n", 64), TypeF32, 0, 4).withData(32), ErrMalformed, "is too long: 64 bytes > 63"},
		{"non-UTF-8 tensor name", header(1, 0).tensor("w\xfe", TypeF32, 0, 4).withData(32), ErrMalformed, "is not valid UTF-8"},
		{"data section past end", header(1, 0).tensor("w", TypeF32, 0, 4).Bytes(), ErrMalformed, "tensor data section starts at 64, past the end of the 57-byte file"},
	}
}

func TestMalformed(t *testing.T) {
	cases := malformedCases(t)
	if len(cases) < 20 {
		t.Fatalf("only %d malformed cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data)
			if err == nil {
				t.Fatalf("accepted: %d KVs, %d tensors", len(f.KV), len(f.Tensors))
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q does not wrap %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// TestTruncatedEverywhere cuts a valid file at every length short of the
// data section: each prefix must be rejected as malformed, not panic.
func TestTruncatedEverywhere(t *testing.T) {
	valid := tinyFile(t, allValues())
	f, err := Parse(valid)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < int(f.DataOffset); n++ {
		if _, err := Parse(valid[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: err = %v, want ErrMalformed", n, err)
		}
	}
}

// TestCountsDoNotDriveAllocation: counts that fit the file but are not
// backed by entries (64 MiB of zeros claiming ~5M KVs or 2M tensors, or
// of 0xff claiming an 8M-string array) must fail without allocating in
// proportion.
func TestCountsDoNotDriveAllocation(t *testing.T) {
	pad := make([]byte, 64<<20)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"KVs", append(header(0, uint64(len(pad))/14).Bytes(), pad...)},
		{"tensors", append(header(uint64(len(pad))/32, 0).Bytes(), pad...)},
		{"strings", append(header(0, 1).str("k").u32(valArray).u32(valString).u64(uint64(len(pad))/8).Bytes(), fill(len(pad), 0xff)...)},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Parse(c.data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
			t.Errorf("%s: Parse allocated %d MiB for a %d MiB file", c.name, got>>20, len(c.data)>>20)
		}
	}
}
