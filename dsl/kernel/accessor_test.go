package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/gguf"
)

// hostPrelude gives the portable weight accessors a host implementation
// of the prelude so clang can compile and run them.
const hostPrelude = `#include <cstdio>
#include <cstring>
#include <cmath>
#include <vector>
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
#define GLOBAL
#define FN static inline
FN float bits_f32(uint u) { float f; std::memcpy(&f, &u, 4); return f; }
FN uint f32_bits(float f) { uint u; std::memcpy(&u, &f, 4); return u; }
FN float f16_bits(ushort h) {
    uint s = (h & 0x8000u) << 16, e = (h >> 10) & 31, m = h & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return bits_f32(s | 0x7f800000u | (m << 13));
    return bits_f32(s | ((e + 112) << 23) | (m << 13));
}
FN float f16_round(float v) { // round to nearest even f16, normal range
    uint u = f32_bits(v), rest = u & 0x1fffu, keep = u & ~0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (u & 0x2000u))) keep += 0x2000u;
    return bits_f32(keep);
}
using std::round; using std::rint; using std::fabs; using std::min;
`

// TestGPUWeightAccessorsExecute compiles the MSL/CUDA weight accessors
// (the exact source the kernels include) for the host with clang, runs
// them over quantized rows and compares every element with
// gguf.Dequantize.
func TestGPUWeightAccessorsExecute(t *testing.T) {
	requireClang(t)
	clang, _ := clangcheck.Clang()
	dir := t.TempDir()
	h := newHarness(t, false, 1)
	const rows, k = 3, 512
	var src strings.Builder
	src.WriteString(hostPrelude)
	for _, ty := range GPUWeightTypes() {
		src.WriteString(weightSrc[ty] + "\n")
	}
	src.WriteString("int main(int argc, char** argv) {\n    std::vector<uchar> buf(1 << 22);\n")
	var want []float32
	for i, ty := range GPUWeightTypes() {
		vals := make([]float32, rows*k)
		for j := range vals {
			vals[j] = float32(h.rng.NormFloat64())
		}
		data, err := gguf.Quantize(ty, vals)
		if err != nil {
			t.Fatal(err)
		}
		deq := make([]float32, rows*k)
		if err := gguf.Dequantize(ty, data, deq); err != nil {
			t.Fatal(err)
		}
		want = append(want, deq...)
		file := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rb, _ := gguf.RowBytes(ty, k)
		fmt.Fprintf(&src, `    { FILE* f = std::fopen(%q, "rb"); size_t n = std::fread(buf.data(), 1, buf.size(), f); std::fclose(f); (void)n;
      for (int r = 0; r < %d; r++) for (int j = 0; j < %d; j++) { float v = %s(buf.data(), %d, r, j); std::fwrite(&v, 4, 1, stdout); } }
`, file, rows, k, weightFn(ty), rb)
	}
	src.WriteString("    return 0;\n}\n")
	cpp, bin := filepath.Join(dir, "acc.cpp"), filepath.Join(dir, "acc")
	if err := os.WriteFile(cpp, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-x", "c++", "-std=c++17", "-O1", "-o", bin, cpp).CombinedOutput(); err != nil {
		t.Fatalf("compiling accessors: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(out)/4)
	if err := binary.Read(bytes.NewReader(out), binary.LittleEndian, got); err != nil || len(got) != len(want) {
		t.Fatalf("read %d values (%v), want %d", len(got), err, len(want))
	}
	for i := range got {
		ty := GPUWeightTypes()[i/(rows*k)]
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Abs(float64(want[i]))+1e-7 {
			t.Fatalf("%s element %d: accessor %g, gguf.Dequantize %g", ty, i%(rows*k), got[i], want[i])
		}
	}
}

// TestGPURoundingHelpersExecute runs the GPU input-rounding helpers (with
// the block scales the kernels compute) on the host and compares them with
// ggmlnum.RoundForDot.
func TestGPURoundingHelpersExecute(t *testing.T) {
	requireClang(t)
	clang, _ := clangcheck.Clang()
	dir := t.TempDir()
	h := newHarness(t, false, 1)
	const n = 1024
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(h.rng.NormFloat64())
	}
	x[5] = 0 // exact zeros and a zero block
	for i := 256; i < 288; i++ {
		x[i] = 0
	}
	in := filepath.Join(dir, "x")
	var raw bytes.Buffer
	binary.Write(&raw, binary.LittleEndian, x)
	if err := os.WriteFile(in, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := hostPrelude + roundSrc + fmt.Sprintf(`
int main() {
    float x[%d];
    FILE* f = std::fopen(%q, "rb"); size_t got = std::fread(x, 4, %d, f); std::fclose(f); (void)got;
    for (int bs = 32; bs <= 256; bs *= 8) {
        for (int b = 0; b < %d / bs; b++) {
            float amax = 0.0f, m = 0.0f;
            for (int j = 0; j < bs; j++) { float v = x[b * bs + j]; if (fabs(v) > amax) { amax = fabs(v); m = v; } }
            for (int j = 0; j < bs; j++) {
                float v = bs == 32 ? rnd_q8_0(x[b * bs + j], amax) : rnd_q8_k(x[b * bs + j], m);
                std::fwrite(&v, 4, 1, stdout);
            }
        }
    }
    for (int i = 0; i < %d; i++) { float v = f16_round(x[i]); std::fwrite(&v, 4, 1, stdout); }
    for (int i = 0; i < %d; i++) { float v = rnd_bf16(x[i]); std::fwrite(&v, 4, 1, stdout); }
    return 0;
}
`, n, in, n, n, n, n)
	cpp, bin := filepath.Join(dir, "r.cpp"), filepath.Join(dir, "r")
	if err := os.WriteFile(cpp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-x", "c++", "-std=c++17", "-O1", "-o", bin, cpp).CombinedOutput(); err != nil {
		t.Fatalf("compiling: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(out)/4)
	binary.Read(bytes.NewReader(out), binary.LittleEndian, got)
	var want []float32
	for _, ty := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeF16, gguf.TypeBF16} {
		v := append([]float32(nil), x...)
		ggmlnum.RoundForDot(ty, v)
		want = append(want, v...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	names := []string{"Q8_0 blocks", "Q8_K blocks", "f16", "bf16"}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s element %d of %g: GPU helper %g, ggmlnum.RoundForDot %g", names[i/n], i%n, x[i%n], got[i], want[i])
		}
	}
}
