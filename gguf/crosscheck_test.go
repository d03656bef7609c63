package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"
)

// canonical turns a metadata value (ours or gguf-parser-go's) into nested
// []any of scalars, so the two readers can be compared.
func canonical(v any) any {
	switch x := v.(type) {
	case parser.GGUFMetadataKVArrayValue:
		return canonical(x.Array)
	case string:
		// gguf-parser-go trims Unicode white space from strings (token 498
		// of stories260K is U+00A0 in the file, "" there): compare trimmed;
		// TestStoriesMetadata checks the raw bytes.
		return strings.TrimSpace(x)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = canonical(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

// crossCheck parses path with gguf-parser-go and compares every KV and
// tensor info with ours.
func crossCheck(t *testing.T, path string) {
	t.Helper()
	ours, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := parser.ParseGGUFFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if uint32(theirs.Header.Version) != ours.Version {
		t.Errorf("version: ours %d, theirs %d", ours.Version, theirs.Header.Version)
	}
	if len(theirs.Header.MetadataKV) != len(ours.KV) {
		t.Fatalf("KV count: ours %d, theirs %d", len(ours.KV), len(theirs.Header.MetadataKV))
	}
	for i, kv := range theirs.Header.MetadataKV {
		o := ours.KV[i]
		if o.Key != kv.Key {
			t.Errorf("KV %d key: ours %q, theirs %q", i, o.Key, kv.Key)
			continue
		}
		if a, b := canonical(o.Value), canonical(kv.Value); !reflect.DeepEqual(a, b) {
			t.Errorf("key %q: ours %s, theirs %s", kv.Key, short(a), short(b))
		}
	}
	if theirs.TensorDataStartOffset != ours.DataOffset {
		t.Errorf("data offset: ours %d, theirs %d", ours.DataOffset, theirs.TensorDataStartOffset)
	}
	if len(theirs.TensorInfos) != len(ours.Tensors) {
		t.Fatalf("tensor count: ours %d, theirs %d", len(ours.Tensors), len(theirs.TensorInfos))
	}
	for i, ti := range theirs.TensorInfos {
		o := ours.Tensors[i]
		shape := make([]int64, len(ti.Dimensions))
		for j, d := range ti.Dimensions {
			shape[j] = int64(d)
		}
		if o.Name != ti.Name || uint32(o.Type) != uint32(ti.Type) || !reflect.DeepEqual(o.Shape, shape) ||
			o.Offset != int64(ti.Offset) || o.Bytes != int64(ti.Bytes()) {
			t.Errorf("tensor %d: ours %s %s %v @%d %dB, theirs %s %s %v @%d %dB", i,
				o.Name, o.Type, o.Shape, o.Offset, o.Bytes, ti.Name, ti.Type, shape, ti.Offset, ti.Bytes())
		}
	}
}

func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func TestCrossCheckStories(t *testing.T) {
	crossCheck(t, storiesPath(t))
}

func TestCrossCheckWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.gguf")
	if err := os.WriteFile(path, tinyFile(t, allValues()), 0o644); err != nil {
		t.Fatal(err)
	}
	crossCheck(t, path)

	// Every quantizable type, several shapes, non-default alignment.
	w := NewWriter()
	if err := w.AddKV("general.alignment", uint32(128)); err != nil {
		t.Fatal(err)
	}
	for i, typ := range []Type{TypeF32, TypeF16, TypeBF16, TypeQ8_0, TypeQ4_0, TypeQ4_K, TypeQ6_K} {
		n := typ.BlockSize() * 8
		if n == 8 {
			n = 40
		}
		x := make([]float32, n*3)
		for j := range x {
			x[j] = float32(j%17) - 8
		}
		data, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(fmt.Sprintf("blk.%d.w", i), typ, []int64{int64(n), 3}, data); err != nil {
			t.Fatal(err)
		}
	}
	path2 := filepath.Join(t.TempDir(), "q.gguf")
	if err := w.WriteFile(path2); err != nil {
		t.Fatal(err)
	}
	crossCheck(t, path2)
}

// TestTypeTableAgainstParser checks block size, block bytes and name of
// every type against gguf-parser-go's independent table.
func TestTypeTableAgainstParser(t *testing.T) {
	n := 0
	for id := uint32(0); id < 64; id++ {
		ours := Type(id)
		tr, ok := parser.GGMLType(id).Trait()
		removed := id == 4 || id == 5 || (id >= 31 && id <= 33) || (id >= 36 && id <= 38)
		if !ours.Known() {
			if ok && tr.BlockSize != 0 && !removed {
				t.Errorf("type %d: theirs %+v, ours unknown", id, tr)
			}
			continue
		}
		n++
		if !ok {
			t.Errorf("type %s (%d) unknown to gguf-parser-go", ours, id)
			continue
		}
		if uint64(ours.BlockSize()) != tr.BlockSize || uint64(ours.BlockBytes()) != tr.TypeSize {
			t.Errorf("type %s: ours %d/%d, theirs %d/%d", ours, ours.BlockSize(), ours.BlockBytes(), tr.BlockSize, tr.TypeSize)
		}
		if ours.String() != parser.GGMLType(id).String() {
			t.Errorf("type %d name: ours %q, theirs %q", id, ours, parser.GGMLType(id).String())
		}
	}
	if n != 35 {
		t.Errorf("%d known types, want 35", n)
	}
}
