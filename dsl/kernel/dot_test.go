package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// randomRows returns n rows of k weights of type t with random bytes
// (block scales kept finite and small) and their dequantized values.
func randomRows(t *testing.T, ty gguf.Type, n, k int, rng *rand.Rand) ([]byte, [][]float32) {
	t.Helper()
	rb, err := gguf.RowBytes(ty, k)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n*rb)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	f16 := func(b []byte) {
		h := gguf.F32ToF16(float32(rng.NormFloat64() * 0.05))
		b[0], b[1] = byte(h), byte(h>>8)
	}
	switch ty {
	case gguf.TypeF32:
		for i := 0; i < n*k; i++ {
			v := math.Float32bits(float32(rng.NormFloat64()))
			data[4*i], data[4*i+1], data[4*i+2], data[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
	case gguf.TypeF16:
		for i := 0; i < n*k; i++ {
			f16(data[2*i:])
		}
	default:
		// Finite block scales: d (and dmin) at their offsets in a block.
		offs := map[gguf.Type][]int{gguf.TypeQ4_K: {0, 2}, gguf.TypeQ6_K: {208}}[ty]
		if offs == nil {
			offs = []int{0}
		}
		bs, _ := gguf.RowBytes(ty, ty.BlockSize())
		for b := 0; b < len(data); b += bs {
			for _, o := range offs {
				f16(data[b+o:])
			}
		}
	}
	rows := make([][]float32, n)
	for r := range rows {
		rows[r] = make([]float32, k)
		if err := gguf.Dequantize(ty, data[r*rb:(r+1)*rb], rows[r]); err != nil {
			t.Fatal(err)
		}
	}
	return data, rows
}

// eachSIMD runs f under every instruction set of the row dots this CPU
// has (SIMDs: avx512, avx2, go), restoring the start-up one after.
func eachSIMD(t *testing.T, f func(t *testing.T, set string)) {
	t.Helper()
	prev := SIMD()
	t.Cleanup(func() {
		if err := SetSIMD(prev); err != nil {
			t.Fatal(err)
		}
	})
	for _, set := range SIMDs() {
		t.Run(set, func(t *testing.T) {
			if err := SetSIMD(set); err != nil {
				t.Fatal(err)
			}
			f(t, set)
		})
	}
}

// TestRowDotsMatchDefinition checks the SIMD row dots of every
// instruction set this CPU has (eight, four, two rows per pass and single
// rows, rows in any order, consecutive rows, gate and up pairs) against
// dotLanes on the rows gguf.Dequantize decodes, bit for bit, and dotLanes
// against a float64 dot within float32 rounding. Sets the CPU lacks are
// reported as skipped (the pure Go set always runs).
func TestRowDotsMatchDefinition(t *testing.T) {
	for _, set := range []string{"avx512", "avx2"} {
		if !slices.Contains(SIMDs(), set) {
			t.Run(set, func(t *testing.T) { t.Skipf("this CPU has no %s (it has %v)", set, SIMDs()) })
		}
	}
	eachSIMD(t, testRowDotsMatchDefinition)
}

func testRowDotsMatchDefinition(t *testing.T, set string) {
	types := []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ4_K, gguf.TypeQ6_K}
	for _, ty := range types {
		for _, k := range []int{32, 96, 160, 256, 896, 4864} {
			if _, err := gguf.RowBytes(ty, k); err != nil {
				continue
			}
			t.Run(ty.String()+"/"+itoa(k), func(t *testing.T) {
				if simdDots(ty, k) == nil && set != "go" {
					t.Fatalf("%s has no %s kernel for k=%d", set, ty, k)
				}
				rng := rand.New(rand.NewPCG(1, uint64(k)))
				const n = 11
				data, rows := randomRows(t, ty, n, k, rng)
				x := make([]float32, k)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				order := []int{3, 0, 7, 10, 1, 2, 9, 4, 8, 5, 6}
				got := make([]float32, n)
				// Every prefix of the order, so that each row count per
				// pass (8, 4, 2, 1 and their mixes) runs.
				for m := 1; m <= n; m++ {
					rowDots(ty, data, k, order[:m], x, got[:m], make([]float32, k))
					for j, r := range order[:m] {
						if want := dotLanes(rows[r], x); math.Float32bits(got[j]) != math.Float32bits(want) {
							t.Errorf("%d rows, row %d: got %v, want %v (dotLanes)", m, r, got[j], want)
						}
					}
				}
				// Consecutive rows from every start, and gate/up pairs.
				for r0 := 0; r0 < n; r0++ {
					m := n - r0
					rangeDots(ty, data, k, r0, x, got[:m], make([]float32, k))
					gotB := make([]float32, m)
					pairDots(ty, data, data[rb(t, ty, k):], k, r0, x[:k], got[:m-1], gotB[:m-1], new([8]float32), make([]float32, k))
					for j := 0; j < m-1; j++ {
						wantA, wantB := dotLanes(rows[r0+j], x), dotLanes(rows[r0+j+1], x)
						if math.Float32bits(got[j]) != math.Float32bits(wantA) || math.Float32bits(gotB[j]) != math.Float32bits(wantB) {
							t.Errorf("pair from row %d, slot %d: got %v, %v, want %v, %v (dotLanes)", r0, j, got[j], gotB[j], wantA, wantB)
						}
					}
				}
				for r0 := 0; r0 < n; r0++ {
					m := n - r0
					rangeDots(ty, data, k, r0, x, got[:m], make([]float32, k))
					for j := range m {
						if want := dotLanes(rows[r0+j], x); math.Float32bits(got[j]) != math.Float32bits(want) {
							t.Errorf("rows %d…: row %d: got %v, want %v (dotLanes)", r0, r0+j, got[j], want)
						}
					}
				}
				for _, r := range order {
					want := dotLanes(rows[r], x)
					var ref, mag float64
					for i := range x {
						ref += float64(rows[r][i]) * float64(x[i])
						mag += math.Abs(float64(rows[r][i]) * float64(x[i]))
					}
					if d := math.Abs(float64(want) - ref); d > 1e-5*mag+1e-30 {
						t.Errorf("row %d: dotLanes %v, float64 dot %v (|diff| %g > 1e-5·%g)", r, want, ref, d, mag)
					}
				}
			})
		}
	}
}

// rb is the bytes of a row of k weights of type ty.
func rb(t *testing.T, ty gguf.Type, k int) int {
	t.Helper()
	n, err := gguf.RowBytes(ty, k)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(k int) string {
	s := ""
	for {
		s = string(rune('0'+k%10)) + s
		k /= 10
		if k == 0 {
			return s
		}
	}
}

// TestDotTails checks Dot and dotLanes on lengths that are not a multiple
// of 32 against a hand-computed sum.
func TestDotTails(t *testing.T) {
	for _, n := range []int{1, 5, 31, 33, 64, 100} {
		a, b := make([]float32, n), make([]float32, n)
		want := float32(0)
		for i := range a {
			a[i], b[i] = 1, float32(i%3)
			want += float32(i % 3)
		}
		if got := Dot(a, b); got != want {
			t.Errorf("n=%d: got %v, want %v", n, got, want)
		}
	}
}

// TestRoundF16 checks the SIMD f16 rounding of a dot's input against
// ggmlnum.RoundForDot bit for bit: normal, subnormal, overflowing and
// halfway values.
func TestRoundF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 0, 4099)
	for _, v := range []float32{0, -0, 1, 65504, 65520, 65519.99, -65536, 1e-8, 5.96e-8, 2.98e-8, 1 + 1.0/2048, 1 + 3.0/2048, float32(math.Inf(1))} {
		x = append(x, v)
	}
	for len(x) < cap(x) {
		e := rng.IntN(40) - 28
		x = append(x, float32(rng.NormFloat64()*math.Ldexp(1, e)))
	}
	want := append([]float32(nil), x...)
	ggmlnum.RoundForDot(gguf.TypeF16, want)
	eachSIMD(t, func(t *testing.T, _ string) {
		got := append([]float32(nil), x...)
		roundF16(got)
		for i := range x {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("x=%g: got %g, want %g", x[i], got[i], want[i])
			}
		}
	})
}

// TestPVMatchDefinition checks attention's P·V updates (accumPV,
// rescalePV) under every instruction set against their scalar
// definitions, bit for bit, on lengths around the SIMD widths.
func TestPVMatchDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	eachSIMD(t, func(t *testing.T, _ string) {
		for _, n := range []int{1, 7, 8, 15, 16, 24, 64, 100} {
			out, v := make([]float32, n), make([]float32, n)
			for i := range out {
				out[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			p, c := float32(rng.Float64()), float32(rng.Float64())
			got, want := append([]float32(nil), out...), append([]float32(nil), out...)
			accumPV(got, v, p)
			for i := range want {
				want[i] += float32(p * v[i])
			}
			got2, want2 := append([]float32(nil), out...), append([]float32(nil), out...)
			rescalePV(got2, v, c, p)
			for i := range want2 {
				want2[i] = float32(want2[i]*c) + float32(p*v[i])
			}
			for i := range out {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("accumPV n=%d [%d]: got %v, want %v", n, i, got[i], want[i])
				}
				if math.Float32bits(got2[i]) != math.Float32bits(want2[i]) {
					t.Errorf("rescalePV n=%d [%d]: got %v, want %v", n, i, got2[i], want2[i])
				}
			}
		}
	})
}

// TestSIMDEnv checks METALLIC_DSL_SIMD and METALLIC_DSL_NOSIMD as a fresh
// process reads them: the set they choose, or the error that makes the
// dsl path refuse to open.
func TestSIMDEnv(t *testing.T) {
	if os.Getenv("DSL_SIMD_ENV_CHILD") == "1" {
		fmt.Printf("set=%s err=%v\n", SIMD(), SIMDEnvError())
		return
	}
	cases := []struct {
		env  []string
		want string
	}{
		{nil, "set=" + SIMDs()[0] + " err=<nil>"},
		{[]string{"METALLIC_DSL_SIMD=auto"}, "set=" + SIMDs()[0] + " err=<nil>"},
		{[]string{"METALLIC_DSL_SIMD=go"}, "set=go err=<nil>"},
		{[]string{"METALLIC_DSL_NOSIMD=1"}, "set=go err=<nil>"},
		{[]string{"METALLIC_DSL_SIMD=avx3"}, `unknown row-dot instruction set "avx3"`},
		{[]string{"METALLIC_DSL_NOSIMD=1", "METALLIC_DSL_SIMD=avx2"}, "conflicts with METALLIC_DSL_SIMD=avx2"},
		{[]string{"METALLIC_DSL_NOSIMD=yes"}, `METALLIC_DSL_NOSIMD="yes"`},
	}
	if !slices.Contains(SIMDs(), "avx2") {
		cases = append(cases, struct {
			env  []string
			want string
		}{[]string{"METALLIC_DSL_SIMD=avx2"}, "this CPU has no avx2 row dots"})
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIMDEnv$")
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "METALLIC_DSL_SIMD=") && !strings.HasPrefix(e, "METALLIC_DSL_NOSIMD=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(append(cmd.Env, c.env...), "DSL_SIMD_ENV_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, out)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%v: got %q, want it to contain %q", c.env, out, c.want)
		}
	}
}
