package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The oracle tests run llama.cpp's own code (libggml-base from the npm
// package @node-llama-cpp/linux-x64, installed by scripts/setup.sh) through
// testdata/ggml_oracle.c, compiled with clang. They skip with a reason when
// that is unavailable, and fail instead when METALLIC_REQUIRE_ORACLES=1.

// oracle returns the compiled testdata/ggml_oracle.c.
func oracle(t *testing.T) string {
	t.Helper()
	return testenv.BuildGGMLOracle(t, filepath.Join("gguf", "testdata", "ggml_oracle.c"))
}

func runOracle(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(oracle(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ggml_oracle %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestOracleTypeTable(t *testing.T) {
	out := runOracle(t, nil, "types", "42")
	seen := map[Type]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var id, bs, bb int
		var name string
		if _, err := fmt.Sscan(line, &id, &name, &bs, &bb); err != nil {
			t.Fatalf("bad line %q", line)
		}
		typ := Type(id)
		seen[typ] = true
		if typ.String() != strings.ToUpper(name) || typ.BlockSize() != bs || typ.BlockBytes() != bb {
			t.Errorf("type %d: llama.cpp %s %d/%d, ours %s %d/%d", id, name, bs, bb, typ, typ.BlockSize(), typ.BlockBytes())
		}
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("type %s known here but not to llama.cpp", typ)
		}
	}
}

// ggufTypeID is the GGUF value type id llama.cpp reports for a value.
func ggufTypeID(v any) int {
	typ, isArray, _ := valueType(v)
	if isArray {
		return valArray
	}
	return int(typ)
}

// TestOracleLoadsOurFiles has llama.cpp's gguf_init_from_file read files
// our Writer produced (and stories260K), including the tensor data, and
// compares what it saw with our reader.
func TestOracleLoadsOurFiles(t *testing.T) {
	dir := t.TempDir()
	var flat []KV
	for _, kv := range allValues() {
		if _, nested := kv.Value.([]any); !nested { // llama.cpp has no arrays of arrays
			flat = append(flat, kv)
		}
	}
	w := NewWriter()
	w.AddKV("general.alignment", uint32(64))
	for _, kv := range flat {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i, typ := range []Type{TypeF32, TypeF16, TypeBF16, TypeQ8_0, TypeQ4_0, TypeQ4_K, TypeQ6_K} {
		x := gaussian(typ.BlockSize()*3*(i+1), uint64(i))
		data, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		shape := []int64{int64(typ.BlockSize() * (i + 1)), 3}
		if typ.BlockSize() == 1 {
			shape = []int64{int64(len(x))}
		}
		if err := w.AddTensor(fmt.Sprintf("blk.%d.%s", i, strings.ToLower(typ.String())), typ, shape, data); err != nil {
			t.Fatal(err)
		}
	}
	ours := filepath.Join(dir, "ours.gguf")
	if err := w.WriteFile(ours); err != nil {
		t.Fatal(err)
	}
	kvOnly := filepath.Join(dir, "kv-only.gguf")
	w2 := NewWriter()
	w2.AddKV("general.architecture", "llama")
	if err := w2.WriteFile(kvOnly); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{ours, kvOnly, storiesPath(t)} {
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		fmt.Fprintf(&want, "version %d\nalignment %d\ndata_offset %d\n", f.Version, f.Alignment, f.DataOffset)
		for _, kv := range f.KV {
			fmt.Fprintf(&want, "kv %s %d\n", kv.Key, ggufTypeID(kv.Value))
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			h := fnv.New64a()
			h.Write(f.Data(ti))
			fmt.Fprintf(&want, "tensor %s %d %d %d %016x\n", ti.Name, ti.Type, ti.Offset, ti.Bytes, h.Sum64())
		}
		f.Close()
		if got := runOracle(t, nil, "gguf", path); got != want.String() {
			t.Errorf("%s: llama.cpp read\n%s\nwe read\n%s", filepath.Base(path), got, want.String())
		}
	}
}

// scaleFields lists the byte offsets of the float16 scales in a block
// (Q8_K's scale is a float32 at 0).
var scaleFields = map[Type][]int{
	TypeQ4_0: {0}, TypeQ4_1: {0, 2}, TypeQ5_0: {0}, TypeQ5_1: {0, 2}, TypeQ8_0: {0},
	TypeQ2_K: {80, 82}, TypeQ3_K: {108}, TypeQ4_K: {0, 2}, TypeQ5_K: {0, 2}, TypeQ6_K: {208}, TypeIQ4_NL: {0},
}

// randomBlocks fills n blocks of t with random bytes, then gives every
// scale a random finite value in [2^-12, 2^4) of either sign.
func randomBlocks(t Type, n int, r *rand.Rand) []byte {
	b := make([]byte, n*t.BlockBytes())
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for k := 0; k < n; k++ {
		blk := b[k*t.BlockBytes():]
		if t == TypeQ8_K {
			v := float32(r.Float64()*16) * float32(1-2*r.IntN(2))
			binary.LittleEndian.PutUint32(blk, math.Float32bits(v))
			continue
		}
		for _, off := range scaleFields[t] {
			h := uint16(r.IntN(1024)) | uint16(3+r.IntN(16))<<10 | uint16(r.IntN(2))<<15
			binary.LittleEndian.PutUint16(blk[off:], h)
		}
	}
	return b
}

// TestOracleDequantize compares Dequantize with ggml's dequantize_row_* on
// random blocks: float32 results must be bit-identical, and the float64
// results within float32 rounding of them.
func TestOracleDequantize(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range []Type{TypeQ4_0, TypeQ4_1, TypeQ5_0, TypeQ5_1, TypeQ8_0, TypeQ2_K, TypeQ3_K, TypeQ4_K, TypeQ5_K, TypeQ6_K, TypeQ8_K, TypeIQ4_NL} {
		const nBlocks = 64
		src := randomBlocks(typ, nBlocks, r)
		n := nBlocks * typ.BlockSize()
		in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
		if err := os.WriteFile(in, src, 0o644); err != nil {
			t.Fatal(err)
		}
		runOracle(t, []string{"ORACLE_N=" + strconv.Itoa(n)}, "dequant", typ.String(), in, out)
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got32 := make([]float32, n)
		got64 := make([]float64, n)
		if err := Dequantize(typ, src, got32); err != nil {
			t.Fatal(err)
		}
		if err := DequantizeF64(typ, src, got64); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i := 0; i < n; i++ {
			want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if math.Float32bits(got32[i]) != math.Float32bits(want) {
				if bad++; bad <= 3 {
					t.Errorf("%s element %d: got %v, llama.cpp %v", typ, i, got32[i], want)
				}
			}
			if d := math.Abs(got64[i] - float64(want)); d > 1e-6*math.Abs(float64(want))+1e-30 {
				t.Errorf("%s element %d: float64 %v vs llama.cpp %v", typ, i, got64[i], want)
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d elements differ from llama.cpp", typ, bad, n)
		}
	}
}

// TestOracleQuantize: Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 follow ggml's reference quantizers bit
// for bit; our Q4_K and Q6_K searches must be about as accurate as ggml's
// reference ones.
func TestOracleQuantize(t *testing.T) {
	dir := t.TempDir()
	x := gaussian(256*32, 5)
	var raw bytes.Buffer
	for _, v := range x {
		binary.Write(&raw, binary.LittleEndian, v)
	}
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ    Type
		exact  bool
		maxRel float64 // our RMSE / llama.cpp's RMSE
	}{{TypeQ8_0, true, 1}, {TypeQ4_0, true, 1}, {TypeQ4_1, true, 1}, {TypeQ5_0, true, 1}, {TypeQ5_1, true, 1}, {TypeQ4_K, false, 1.02}, {TypeQ6_K, false, 1.02}} {
		n, _ := RowBytes(c.typ, len(x))
		out := filepath.Join(dir, "out")
		runOracle(t, []string{"ORACLE_BYTES=" + strconv.Itoa(n)}, "quant", c.typ.String(), in, out)
		theirs, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := Quantize(c.typ, x)
		if err != nil {
			t.Fatal(err)
		}
		if c.exact && !bytes.Equal(ours, theirs) {
			i := 0
			for ours[i] == theirs[i] {
				i++
			}
			t.Errorf("%s: bytes differ from quantize_row_%s_ref first at %d", c.typ, strings.ToLower(c.typ.String()), i)
		}
		yo, yt := make([]float64, len(x)), make([]float64, len(x))
		DequantizeF64(c.typ, ours, yo)
		DequantizeF64(c.typ, theirs, yt)
		eo, et := relRMSE(x, yo), relRMSE(x, yt)
		t.Logf("%s relative RMSE: ours %.5f, llama.cpp reference %.5f", c.typ, eo, et)
		if eo > et*c.maxRel {
			t.Errorf("%s: our RMSE %.5f > %.2f × llama.cpp's %.5f", c.typ, eo, c.maxRel, et)
		}
	}
}

// TestOracleHalfConversions compares F32ToF16 and F32ToBF16 with ggml's
// row converters on random bit patterns (NaNs excluded: payloads may
// differ) and special values.
func TestOracleHalfConversions(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(21, 22))
	x := []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.99, 65520, 1e-8, 0x1p-25, 0x3p-25, float32(math.Inf(1)), math.MaxFloat32}
	for len(x) < 1<<16 {
		v := math.Float32frombits(r.Uint32())
		if i := len(x) % 3; i == 1 {
			v = math.Float32frombits(r.Uint32()&0x07ffffff | 0x38000000) // near the f16 range
		} else if i == 2 {
			v = float32(r.NormFloat64())
		}
		if !math.IsNaN(float64(v)) {
			x = append(x, v)
		}
	}
	var raw bytes.Buffer
	binary.Write(&raw, binary.LittleEndian, x)
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode string
		conv func(float32) uint16
	}{{"f16", F32ToF16}, {"bf16", F32ToBF16}} {
		runOracle(t, nil, c.mode, in, out)
		theirs, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, v := range x {
			want := binary.LittleEndian.Uint16(theirs[2*i:])
			if got := c.conv(v); got != want {
				if bad++; bad <= 3 {
					t.Errorf("%s(%g [%#08x]) = %#04x, ggml %#04x", c.mode, v, math.Float32bits(v), got, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d differ", c.mode, bad, len(x))
		}
	}
}
