package gguf

import (
	"github.com/metallic-go/metallic/internal/testenv"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

func storiesPath(t testing.TB) string {
	return filepath.Join(repoRoot(t), "testdata", "stories260K.gguf")
}

// allValues has one metadata entry of every value type, including empty
// strings, empty arrays and arrays of arrays.
func allValues() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"t.u8", uint8(200)},
		{"t.i8", int8(-100)},
		{"t.u16", uint16(60000)},
		{"t.i16", int16(-30000)},
		{"t.u32", uint32(4000000000)},
		{"t.i32", int32(-2000000000)},
		{"t.u64", uint64(1) << 63},
		{"t.i64", int64(-1) << 62},
		{"t.f32", float32(3.25)},
		{"t.f64", -1.0 / 3},
		{"t.bool.true", true},
		{"t.bool.false", false},
		{"t.str", "héllo ✓"},
		{"t.str.empty", ""},
		{"t.arr.u8", []uint8{0, 1, 255}},
		{"t.arr.i8", []int8{-128, 0, 127}},
		{"t.arr.u16", []uint16{0, 65535}},
		{"t.arr.i16", []int16{-32768, 32767}},
		{"t.arr.u32", []uint32{0, 4294967295}},
		{"t.arr.i32", []int32{-5, 6}},
		{"t.arr.u64", []uint64{1 << 40}},
		{"t.arr.i64", []int64{-1 << 40, 7}},
		{"t.arr.f32", []float32{0.5, -2}},
		{"t.arr.f64", []float64{1e300, -1e-300}},
		{"t.arr.bool", []bool{true, false, true}},
		{"t.arr.str", []string{"a", "", "ü"}},
		{"t.arr.empty", []int32{}},
		{"t.arr.str.empty", []string{}},
		{"t.arr.arr", []any{[]int32{1, 2}, []string{"x"}, []any{[]uint8{9}}, []float32{}}},
		{"t.arr.arr.empty", []any{}},
	}
}

// tinyFile writes a small valid file with the given KVs and two tensors.
func tinyFile(t testing.TB, kvs []KV) []byte {
	t.Helper()
	w := NewWriter()
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	a := make([]byte, 4*8)
	for i := range a {
		a[i] = byte(i)
	}
	if err := w.AddTensor("a", TypeF32, []int64{4, 2}, a); err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(TypeQ8_0, make([]float32, 64))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b.weight", TypeQ8_0, []int64{32, 2}, q); err != nil {
		t.Fatal(err)
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
