package ggmlnum

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
)

// The oracles of this file are the real thing: ggml's CPU kernels from the
// llama.cpp build scripts/setup.sh installs (testdata/ggml_cpu_oracle.c
// loads the libggml-cpu variant llama.cpp would pick), and the C library's
// sinf/cosf. The bitwise checks apply when that variant is an AVX-512
// build, the arithmetic this package reproduces.

// cpuOracle returns the compiled testdata/ggml_cpu_oracle.c.
func cpuOracle(t *testing.T) string {
	t.Helper()
	return testenv.BuildGGMLOracle(t, filepath.Join("backend", "ggmlnum", "testdata", "ggml_cpu_oracle.c"))
}

// variant returns the libggml-cpu variant the oracle loads.
func variant(t *testing.T) string {
	out, err := exec.Command(cpuOracle(t), testenv.GGMLLib(t), "variant").Output()
	if err != nil {
		t.Fatalf("ggml_cpu_oracle variant: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// needBits skips the bit-for-bit comparison with ggml's kernels (or fails
// it under METALLIC_REQUIRE_ORACLES=1 on a CPU that has the feature) when
// the variant does not use feature (testenv.AVX512 or AVX512BF16): other
// builds order their sums differently, and this package does not
// reproduce them.
func needBits(t *testing.T, v, feature string) {
	t.Helper()
	uses := llamacpp.AVX512Variant(v)
	if feature == testenv.AVX512BF16 {
		uses = llamacpp.AVX512BF16Variant(v)
	}
	testenv.NeedGGMLFeature(t, v, feature, uses)
}

func runCPUOracle(t *testing.T, kind string, n int, in []float32) []byte {
	t.Helper()
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, in)
	cmd := exec.Command(cpuOracle(t), testenv.GGMLLib(t), kind, fmt.Sprint(n))
	cmd.Stdin = &buf
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ggml_cpu_oracle %s %d: %v\n%s", kind, n, err, stderr.String())
	}
	return out
}

// oracleRecords runs kind on pairs random row pairs (x, y) of length n and
// returns each pair and the oracle's record for it (rec bytes, the first 4
// the dot product as float32).
func oracleRecords(t *testing.T, rng *rand.Rand, kind string, n, pairs, rec int) (xs, ys [][]float32, recs [][]byte) {
	t.Helper()
	in := randomRows(rng, pairs, n)
	out := runCPUOracle(t, kind, n, in)
	if len(out) != pairs*rec {
		t.Fatalf("%s n=%d: %d bytes from the oracle, want %d", kind, n, len(out), pairs*rec)
	}
	for p := range pairs {
		xs = append(xs, in[2*p*n:(2*p+1)*n])
		ys = append(ys, in[(2*p+1)*n:(2*p+2)*n])
		recs = append(recs, out[p*rec:(p+1)*rec])
	}
	return xs, ys, recs
}

// recDot is the dot product at the start of an oracle record.
func recDot(r []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(r)) }

// randomRows returns pairs of rows of length n: Gaussian-ish values with a
// spread of magnitudes and exact zeros, the shapes activations take.
func randomRows(rng *rand.Rand, pairs, n int) []float32 {
	out := make([]float32, 2*pairs*n)
	for i := range out {
		switch rng.IntN(20) {
		case 0:
			out[i] = 0
		case 1:
			out[i] = float32(rng.NormFloat64() * 100)
		default:
			out[i] = float32(rng.NormFloat64() * math.Exp(rng.Float64()*4-2))
		}
	}
	return out
}

// requireBits reports a result that is not ggml's to the bit.
func requireBits(t *testing.T, what string, got, want float32) {
	t.Helper()
	if math.Float32bits(got) != math.Float32bits(want) {
		t.Errorf("%s: got %g (%#08x), ggml %g (%#08x)", what, got, math.Float32bits(got), want, math.Float32bits(want))
	}
}

// TestQ8_0AgainstGGML: QuantizeQ8_0 gives ggml's blocks byte for byte and
// DotQ8_0 its vec_dot result bit for bit, over lengths 32…4096.
func TestQ8_0AgainstGGML(t *testing.T) {
	v := variant(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type rec struct {
		n, pair int
		x, w    []float32
		got     []byte
	}
	var recs []rec
	for _, n := range []int{32, 64, 96, 256, 768, 4096} {
		xs, ws, out := oracleRecords(t, rng, "q8_0", n, 40, 4+34*n/32)
		for p := range out {
			recs = append(recs, rec{n, p, xs[p], ws[p], out[p]})
		}
	}
	t.Run("quantize", func(t *testing.T) {
		for _, r := range recs {
			qs, d := make([]int8, r.n), make([]float32, r.n/32)
			QuantizeQ8_0(r.x, qs, d)
			for b := range r.n / 32 {
				blk := r.got[4+34*b : 4+34*b+34]
				require.Equal(t, f16Widen(uint16(blk[0])|uint16(blk[1])<<8), d[b], "n=%d pair %d block %d: scale", r.n, r.pair, b)
				for i := range 32 {
					require.Equal(t, int8(blk[2+i]), qs[32*b+i], "n=%d pair %d block %d: q[%d]", r.n, r.pair, b, i)
				}
			}
		}
	})
	t.Run("vec_dot", func(t *testing.T) {
		needBits(t, v, testenv.AVX512)
		for _, r := range recs {
			qs, d := make([]int8, r.n), make([]float32, r.n/32)
			QuantizeQ8_0(r.x, qs, d)
			wq, err := gguf.Quantize(gguf.TypeQ8_0, r.w)
			require.NoError(t, err)
			requireBits(t, fmt.Sprintf("DotQ8_0 n=%d pair %d", r.n, r.pair), DotQ8_0(wq, qs, d), recDot(r.got))
		}
	})
}

// TestDotAgainstGGML: DotF32 and DotF16 equal ggml_vec_dot_f32/_f16 bit for
// bit, over lengths with and without a tail after the steps of 64.
func TestDotAgainstGGML(t *testing.T) {
	needBits(t, variant(t), testenv.AVX512)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kind := range []string{"f32", "f16"} {
		for _, n := range []int{1, 8, 32, 63, 64, 100, 128, 172, 256, 1000} {
			xs, ys, recs := oracleRecords(t, rng, kind, n, 30, 4)
			for p, r := range recs {
				x, y, want := xs[p], ys[p], recDot(r)
				var got float32
				if kind == "f32" {
					got = DotF32(x, y)
				} else {
					xh, yh := make([]float32, n), make([]float32, n)
					for i := range xh {
						xh[i], yh[i] = f16Round(x[i]), f16Round(y[i])
					}
					got = DotF16(xh, yh)
				}
				requireBits(t, fmt.Sprintf("%s dot n=%d pair %d", kind, n, p), got, want)
			}
		}
	}
}

// TestSincosfAgainstLibc: Sincosf equals the C library's sinf and cosf
// (glibc here) on a million arguments: RoPE angles of positions 0…4095
// and random floats of every magnitude.
func TestSincosfAgainstLibc(t *testing.T) {
	if runtime.GOOS != "linux" {
		testenv.NeedOracle(t, "the glibc sinf/cosf oracle runs on linux only")
	}
	c := testenv.CC(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "sc.c")
	os.WriteFile(src, []byte(`#include <math.h>
#include <stdio.h>
int main(void) {
    float x;
    while (fread(&x, 4, 1, stdin) == 1) {
        volatile float v = x;
        float r[2] = { sinf(v), cosf(v) };
        fwrite(r, 4, 2, stdout);
    }
    return 0;
}
`), 0o644)
	bin := filepath.Join(dir, "sc")
	if out, err := exec.Command(c, "-O2", "-o", bin, src, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", c, err, out)
	}
	var xs []float32
	theta := make([]float32, 64)
	for pos := 0; pos < 4096; pos += 7 {
		for _, base := range []float32{10000, 1000000} {
			s := float32(math.Pow(float64(base), float64(float32(-2)/128)))
			th := float32(pos)
			for range theta {
				xs = append(xs, th)
				th *= s
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for len(xs) < 1_000_000 {
		x := math.Float32frombits(rng.Uint32())
		if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
			xs = append(xs, x)
		}
	}
	var in bytes.Buffer
	binary.Write(&in, binary.LittleEndian, xs)
	cmd := exec.Command(bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, x := range xs {
		ws := math.Float32frombits(binary.LittleEndian.Uint32(out[8*i:]))
		wc := math.Float32frombits(binary.LittleEndian.Uint32(out[8*i+4:]))
		s, c := Sincosf(x)
		if math.Float32bits(s) != math.Float32bits(ws) || math.Float32bits(c) != math.Float32bits(wc) {
			if bad++; bad <= 5 {
				t.Errorf("Sincosf(%g) = %g, %g; libc %g, %g", x, s, c, ws, wc)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d arguments differ from the C library", bad, len(xs))
	}
}

// TestQ6_KAgainstGGML: QuantizeQ8_K gives ggml's Q8_K quants and scales,
// and DotQ6_K its q6_K·q8_K vec_dot bit for bit (weights quantized by
// ggml's reference quantizer, returned by the oracle).
func TestQ6_KAgainstGGML(t *testing.T) {
	v := variant(t)
	rng := rand.New(rand.NewPCG(11, 12))
	type rec struct {
		n, pair int
		x       []float32
		got     []byte
	}
	var recs []rec
	for _, n := range []int{256, 768, 4864} {
		xs, _, out := oracleRecords(t, rng, "q6_K", n, 30, 4+292*n/256+210*n/256)
		for p := range out {
			recs = append(recs, rec{n, p, xs[p], out[p]})
		}
	}
	quant := func(r rec) ([]int8, []float32) {
		qs, d := make([]int8, r.n), make([]float32, r.n/256)
		QuantizeQ8_K(r.x, qs, d)
		return qs, d
	}
	t.Run("quantize", func(t *testing.T) {
		for _, r := range recs {
			qs, d := quant(r)
			for b := range r.n / 256 {
				blk := r.got[4+292*b : 4+292*b+292]
				require.Equal(t, math.Float32frombits(binary.LittleEndian.Uint32(blk)), d[b], "n=%d pair %d block %d: Q8_K scale", r.n, r.pair, b)
				for i := range 256 {
					require.Equal(t, int8(blk[4+i]), qs[256*b+i], "n=%d pair %d block %d: q[%d]", r.n, r.pair, b, i)
				}
			}
		}
	})
	t.Run("vec_dot", func(t *testing.T) {
		needBits(t, v, testenv.AVX512)
		for _, r := range recs {
			qs, d := quant(r)
			w := r.got[4+292*r.n/256:]
			sums := make([]int32, r.n/16)
			SubSums16(qs, sums)
			requireBits(t, fmt.Sprintf("DotQ6_K n=%d pair %d", r.n, r.pair), DotQ6_K(w, qs, d, sums), recDot(r.got))
		}
	})
}

// TestQ4_0AgainstGGML: DotQ4_0 is ggml's q4_0·q8_0 vec_dot bit for bit.
func TestQ4_0AgainstGGML(t *testing.T) {
	needBits(t, variant(t), testenv.AVX512)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{32, 256, 896} {
		xs, _, recs := oracleRecords(t, rng, "q4_0", n, 30, 4+18*n/32)
		for p, got := range recs {
			qs, d := make([]int8, n), make([]float32, n/32)
			QuantizeQ8_0(xs[p], qs, d)
			requireBits(t, fmt.Sprintf("DotQ4_0 n=%d pair %d", n, p), DotQ4_0(got[4:], qs, d), recDot(got))
		}
	}
}

// TestBF16AgainstGGML: DotBF16 is ggml_vec_dot_bf16 bit for bit (on a
// CPU with AVX512_BF16, whose vdpbf16ps it reproduces).
func TestBF16AgainstGGML(t *testing.T) {
	needBits(t, variant(t), testenv.AVX512BF16)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{8, 64, 100, 256, 896} {
		xs, ys, recs := oracleRecords(t, rng, "bf16", n, 30, 4)
		for p, r := range recs {
			x, y := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = gguf.BF16ToF32(gguf.F32ToBF16(xs[p][i]))
				y[i] = gguf.BF16ToF32(gguf.F32ToBF16(ys[p][i]))
			}
			want := recDot(r)
			requireBits(t, fmt.Sprintf("DotBF16 n=%d pair %d", n, p), DotBF16(x, y), want)
		}
	}
}
