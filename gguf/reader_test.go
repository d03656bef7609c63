package gguf

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestStoriesMetadata checks stories260K against facts about the model
// (llama2.c's stories260K: 5 layers, d 64, 8/4 heads, vocab 512, F32).
func TestStoriesMetadata(t *testing.T) {
	f, err := Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || f.Alignment != 32 || len(f.KV) != 19 || len(f.Tensors) != 48 {
		t.Errorf("version %d alignment %d, %d KVs, %d tensors", f.Version, f.Alignment, len(f.KV), len(f.Tensors))
	}
	if s, _ := f.String("general.architecture"); s != "llama" {
		t.Errorf("architecture %q", s)
	}
	for key, want := range map[string]uint64{
		"llama.embedding_length": 64, "llama.block_count": 5, "llama.attention.head_count": 8,
		"llama.attention.head_count_kv": 4, "llama.feed_forward_length": 172, "tokenizer.ggml.bos_token_id": 1,
	} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, ok, want)
		}
	}
	if eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || float32(eps) != 1e-5 {
		t.Errorf("rms epsilon %v %v", eps, ok)
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(toks) != 512 || toks[1] != "<s>" || toks[3] != "<0x00>" || toks[498] != "\u00a0" {
		t.Errorf("tokens: %d, %q %q %q", len(toks), toks[1], toks[3], toks[498])
	}
	types, ok := f.Int32s("tokenizer.ggml.token_type")
	if !ok || types[0] != 2 || types[1] != 3 || types[3] != 6 || types[300] != 1 {
		t.Errorf("token types %v", types[:4])
	}
	te, ok := f.Tensor("token_embd.weight")
	if !ok || te.Type != TypeF32 || len(te.Shape) != 2 || te.Shape[0] != 64 || te.Shape[1] != 512 || te.Bytes != 131072 {
		t.Fatalf("token_embd.weight = %+v", te)
	}
	if f.DataOffset != 14176 {
		t.Errorf("data offset %d, want 14176", f.DataOffset)
	}
	// The RMS-norm weights of a trained model are positive and O(1).
	norm, _ := f.Tensor("output_norm.weight")
	w := make([]float32, 64)
	if err := Dequantize(norm.Type, f.Data(norm), w); err != nil {
		t.Fatal(err)
	}
	for i, v := range w {
		if !(v > 0.05 && v < 20) {
			t.Errorf("output_norm.weight[%d] = %v", i, v)
		}
	}
}

func TestGetters(t *testing.T) {
	f, err := Parse(tinyFile(t, allValues()))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Uint("t.u64"); !ok || v != 1<<63 {
		t.Errorf("Uint(u64) = %d %v", v, ok)
	}
	if _, ok := f.Int("t.u64"); ok {
		t.Error("Int of 2^63 succeeded")
	}
	if _, ok := f.Uint("t.i8"); ok {
		t.Error("Uint of a negative int8 succeeded")
	}
	if v, ok := f.Int("t.i32"); !ok || v != -2000000000 {
		t.Errorf("Int(i32) = %d %v", v, ok)
	}
	if v, ok := f.Float("t.u16"); !ok || v != 60000 {
		t.Errorf("Float(u16) = %v %v", v, ok)
	}
	if v, ok := f.Float("t.f64"); !ok || v != -1.0/3 {
		t.Errorf("Float(f64) = %v %v", v, ok)
	}
	if _, ok := f.Float("t.str"); ok {
		t.Error("Float of a string succeeded")
	}
	if v, ok := f.Bool("t.bool.true"); !ok || !v {
		t.Errorf("Bool = %v %v", v, ok)
	}
	if v, ok := f.Int32s("t.arr.i16"); !ok || len(v) != 2 || v[0] != -32768 {
		t.Errorf("Int32s(i16) = %v %v", v, ok)
	}
	if _, ok := f.Int32s("t.arr.u32"); ok {
		t.Error("Int32s of 4294967295 succeeded")
	}
	if v, ok := f.Float32s("t.arr.f32"); !ok || len(v) != 2 || v[1] != -2 {
		t.Errorf("Float32s = %v %v", v, ok)
	}
	if _, ok := f.Get("missing"); ok {
		t.Error("Get(missing) succeeded")
	}
	if _, ok := f.Tensor("missing"); ok {
		t.Error("Tensor(missing) succeeded")
	}
}

func TestVersion2(t *testing.T) {
	b := tinyFile(t, []KV{{"k", "v"}})
	b[4] = 2
	f, err := Parse(b)
	if err != nil || f.Version != 2 {
		t.Fatalf("version 2: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory accepted")
	}
	empty := filepath.Join(dir, "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty file: %v", err)
	}
	bad := filepath.Join(dir, "v1.gguf")
	os.WriteFile(bad, []byte("GGUF\x01\x00\x00\x00"), 0o644)
	_, err := Open(bad)
	if !errors.Is(err, ErrUnsupported) || err.Error() != bad+": gguf: version 1 is not supported" {
		t.Errorf("version 1: %v", err)
	}
}

func TestTypeTable(t *testing.T) {
	for _, c := range []struct {
		typ        Type
		name       string
		bs, bb     int
		dequantize bool
	}{
		{TypeF32, "F32", 1, 4, true}, {TypeQ4_K, "Q4_K", 256, 144, true}, {TypeQ6_K, "Q6_K", 256, 210, true},
		{TypeQ8_0, "Q8_0", 32, 34, true}, {TypeIQ4_XS, "IQ4_XS", 256, 136, false}, {TypeMXFP4, "MXFP4", 32, 17, false},
		{TypeTQ1_0, "TQ1_0", 256, 54, false}, {TypeBF16, "BF16", 1, 2, true}, {TypeF64, "F64", 1, 8, false},
	} {
		if c.typ.String() != c.name || c.typ.BlockSize() != c.bs || c.typ.BlockBytes() != c.bb || c.typ.CanDequantize() != c.dequantize {
			t.Errorf("%d: %s %d %d %v", c.typ, c.typ, c.typ.BlockSize(), c.typ.BlockBytes(), c.typ.CanDequantize())
		}
		if p, err := ParseType(c.name); err != nil || p != c.typ {
			t.Errorf("ParseType(%q) = %v %v", c.name, p, err)
		}
	}
	if p, err := ParseType("q4_k"); err != nil || p != TypeQ4_K {
		t.Errorf("ParseType(q4_k) = %v %v", p, err)
	}
	if _, err := ParseType("q4_2"); err == nil {
		t.Error("ParseType(q4_2) succeeded")
	}
	if Type(4).Known() || Type(4).String() != "type(4)" {
		t.Error("type 4 (removed Q4_2) is known")
	}
	if n, err := RowBytes(TypeQ4_K, 512); err != nil || n != 288 {
		t.Errorf("RowBytes(Q4_K, 512) = %d %v", n, err)
	}
	if _, err := RowBytes(TypeQ4_K, 100); err == nil {
		t.Error("RowBytes(Q4_K, 100) succeeded")
	}
	if _, err := RowBytes(TypeQ8_0, math.MaxInt64-31); err == nil {
		t.Error("RowBytes overflow not detected")
	}
}
