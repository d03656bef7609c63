package gguf

import (
	"errors"
	"math"
	"os"
	"reflect"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Parse (what Open runs on the mapped
// file). Parse must return a File or an error wrapping ErrMalformed or
// ErrUnsupported — never panic — and an accepted File must be internally
// consistent and survive a Writer round trip.
func FuzzOpen(f *testing.F) {
	// stories260K itself is 1.1 MB, which stalls the fuzzing engine (0
	// execs/s); seed with its metadata and its small (norm) tensors
	// instead. FUZZ_FULL_SEED=1 adds the whole file.
	if b, err := os.ReadFile(storiesPath(f)); err == nil {
		if os.Getenv("FUZZ_FULL_SEED") != "" {
			f.Add(b)
		}
		f.Add(storiesSmall(f, b))
	}
	f.Add(tinyFile(f, allValues()))
	f.Add(tinyFile(f, []KV{{"general.alignment", uint32(64)}}))
	for _, c := range malformedCases(f) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %q wraps neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		checkFile(t, file)
	})
}

// checkFile checks the invariants of an accepted file.
func checkFile(t *testing.T, file *File) {
	if file.Alignment <= 0 || file.Alignment&(file.Alignment-1) != 0 || (len(file.Tensors) > 0 && file.DataOffset%file.Alignment != 0) {
		t.Fatalf("alignment %d, data offset %d", file.Alignment, file.DataOffset)
	}
	for _, kv := range file.KV {
		v, ok := file.Get(kv.Key)
		if !ok || !sameValue(v, kv.Value) {
			t.Fatalf("Get(%q) = %v, %v", kv.Key, v, ok)
		}
		file.Uint(kv.Key)
		file.Int(kv.Key)
		file.Float(kv.Key)
		file.Int32s(kv.Key)
	}
	w := NewWriter()
	// Rewriting pads to the alignment; a huge one (valid, up to 2^30) would
	// make each run allocate that much.
	rewrite := file.Alignment <= 4096
	for _, kv := range file.KV {
		if w.AddKV(kv.Key, kv.Value) != nil {
			rewrite = false // e.g. a general.alignment that is not a uint32
		}
	}
	for i := range file.Tensors {
		ti := &file.Tensors[i]
		d := file.Data(ti)
		if int64(len(d)) != ti.Bytes {
			t.Fatalf("tensor %q: Data has %d bytes, want %d", ti.Name, len(d), ti.Bytes)
		}
		if got, ok := file.Tensor(ti.Name); !ok || got != ti {
			t.Fatalf("Tensor(%q) lookup failed", ti.Name)
		}
		if ti.Type.CanDequantize() && len(ti.Shape) > 0 && ti.Shape[0] <= 4096 {
			row := int(ti.Shape[0])
			rb, err := RowBytes(ti.Type, row)
			if err != nil {
				t.Fatal(err)
			}
			if err := Dequantize(ti.Type, d[:rb], make([]float32, row)); err != nil {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
		}
		if rewrite && w.AddTensor(ti.Name, ti.Type, ti.Shape, d) != nil {
			rewrite = false // e.g. a tensor with no dimensions
		}
	}
	if !rewrite {
		return
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(b)
	if err != nil {
		t.Fatalf("re-parsing our own output: %v", err)
	}
	for i := range again.KV {
		if again.KV[i].Key != file.KV[i].Key || !sameValue(again.KV[i].Value, file.KV[i].Value) {
			t.Fatalf("KV %q changed in the round trip", file.KV[i].Key)
		}
	}
	for i := range again.Tensors {
		a, o := again.Tensors[i], file.Tensors[i]
		if a.Name != o.Name || a.Type != o.Type || !reflect.DeepEqual(a.Shape, o.Shape) || a.Bytes != o.Bytes {
			t.Fatalf("tensor %d changed: %+v vs %+v", i, a, o)
		}
	}
}

// TestFuzzSeedsAccepted runs the invariant check on the valid seeds.
func TestFuzzSeedsAccepted(t *testing.T) {
	b, err := os.ReadFile(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{b, tinyFile(t, allValues())} {
		file, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		checkFile(t, file)
	}
}

// sameValue is reflect.DeepEqual with floats compared by bits, so NaN
// values equal themselves.
func sameValue(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() {
		return false
	}
	switch va.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(va.Float()) == math.Float64bits(vb.Float()) ||
			(va.Kind() == reflect.Float32 && math.Float32bits(a.(float32)) == math.Float32bits(b.(float32)))
	case reflect.Slice:
		if va.Len() != vb.Len() {
			return false
		}
		for i := 0; i < va.Len(); i++ {
			if !sameValue(va.Index(i).Interface(), vb.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	return a == b
}

// storiesSmall rewrites stories260K with all its metadata but only the
// tensors of at most 256 bytes.
func storiesSmall(t testing.TB, b []byte) []byte {
	file, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter()
	for _, kv := range file.KV {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range file.Tensors {
		ti := &file.Tensors[i]
		if ti.Bytes <= 256 {
			if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, file.Data(ti)); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
