package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRoundTripEveryValueType(t *testing.T) {
	kvs := allValues()
	b := tinyFile(t, kvs)
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 {
		t.Errorf("version %d alignment %d, want 3 and 32", f.Version, f.Alignment)
	}
	if len(f.KV) != len(kvs) {
		t.Fatalf("got %d KVs, want %d", len(f.KV), len(kvs))
	}
	for i, want := range kvs {
		got := f.KV[i]
		if got.Key != want.Key || !reflect.DeepEqual(got.Value, want.Value) {
			t.Errorf("KV %d: got %q = %#v, want %q = %#v", i, got.Key, got.Value, want.Key, want.Value)
		}
	}
	// Writing what we read gives the same bytes.
	w := NewWriter()
	for _, kv := range f.KV {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	b2, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("rewrite differs: %d vs %d bytes", len(b), len(b2))
	}
}

func TestWriterLayout(t *testing.T) {
	b := tinyFile(t, []KV{{"general.alignment", uint32(64)}, {"k", "v"}})
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	// Tensor a: 32 bytes at 0; b.weight: 2 blocks of 34 = 68 bytes at 64.
	want := []TensorInfo{
		{Name: "a", Type: TypeF32, Shape: []int64{4, 2}, Offset: 0, Bytes: 32},
		{Name: "b.weight", Type: TypeQ8_0, Shape: []int64{32, 2}, Offset: 64, Bytes: 68},
	}
	if !reflect.DeepEqual(f.Tensors, want) {
		t.Errorf("tensors %+v, want %+v", f.Tensors, want)
	}
	if int64(len(b)) != f.DataOffset+192 {
		t.Errorf("file is %d bytes, want data offset %d + 192 (132 padded to 64)", len(b), f.DataOffset)
	}
	a := f.Data(&f.Tensors[0])
	for i, c := range a {
		if c != byte(i) {
			t.Fatalf("tensor a byte %d = %d, want %d", i, c, i)
		}
	}
	if ti, ok := f.Tensor("b.weight"); !ok || ti.Elements() != 64 {
		t.Errorf("Tensor(b.weight) = %v, %v", ti, ok)
	}
	// Header bytes: magic, version 3, 2 tensors, 2 KVs.
	wantHead := []byte{'G', 'G', 'U', 'F', 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b[:24], wantHead) {
		t.Errorf("header % x, want % x", b[:24], wantHead)
	}
}

func TestWriterDeterministic(t *testing.T) {
	a, b := tinyFile(t, allValues()), tinyFile(t, allValues())
	if !bytes.Equal(a, b) {
		t.Error("two writes of the same content differ")
	}
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter()
	for _, c := range []struct {
		key string
		v   any
	}{
		{"", "x"}, {"k.int", 5}, {"k.uint", uint(5)}, {"k.float", []int{1}},
		{"k.nested", []any{"notarray"}}, {"general.alignment", uint32(3)},
		{"general.alignment", int32(32)}, {"k.map", map[string]int{}},
		{"bad\xff", "x"},
	} {
		if err := w.AddKV(c.key, c.v); err == nil {
			t.Errorf("AddKV(%q, %#v) accepted", c.key, c.v)
		}
	}
	if err := w.AddKV("dup", "a"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddKV("dup", "b"); err == nil {
		t.Error("duplicate key accepted")
	}
	good := make([]byte, 16)
	for _, c := range []struct {
		name  string
		typ   Type
		shape []int64
		data  []byte
	}{
		{"", TypeF32, []int64{4}, good},
		{string(make([]byte, 64)), TypeF32, []int64{4}, good},
		{"x", TypeF32, []int64{5}, good},
		{"x", TypeF32, []int64{}, good},
		{"x", TypeF32, []int64{1, 1, 1, 1, 4}, good},
		{"x", TypeF32, []int64{0, 4}, good},
		{"x", TypeQ8_0, []int64{16}, good},
		{"x", Type(4), []int64{4}, good},
	} {
		if err := w.AddTensor(c.name, c.typ, c.shape, c.data); err == nil {
			t.Errorf("AddTensor(%q, %v, %v) accepted", c.name, c.typ, c.shape)
		}
	}
	if err := w.AddTensor("x", TypeF32, []int64{4}, good); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("x", TypeF32, []int64{4}, good); err == nil {
		t.Error("duplicate tensor accepted")
	}
}

func TestWriteFileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.gguf")
	w := NewWriter()
	if err := w.AddKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := w.AddTensor("t", TypeF16, []int64{4}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := os.Stat(path)
	if f.Size != st.Size() {
		t.Errorf("Size %d, file %d", f.Size, st.Size())
	}
	if got := f.Data(&f.Tensors[0]); !bytes.Equal(got, data) {
		t.Errorf("data %v, want %v", got, data)
	}
	if s, ok := f.String("general.architecture"); !ok || s != "llama" {
		t.Errorf("architecture %q %v", s, ok)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.Data(&f.Tensors[0]) != nil {
		t.Error("Data after Close is not nil")
	}
}
