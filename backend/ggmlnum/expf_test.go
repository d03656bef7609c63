package ggmlnum

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
)

// TestLibcExpfAgainstLibc: LibcExpf equals the C library's expf (glibc
// here) on two million arguments: every 1024th float32 of both signs,
// random ones, softmax-like differences s − M ≤ 0, and the special cases
// (±0, ±Inf, NaN, the overflow and underflow edges).
func TestLibcExpfAgainstLibc(t *testing.T) {
	if runtime.GOOS != "linux" {
		testenv.NeedOracle(t, "the glibc expf oracle runs on linux only")
	}
	c := testenv.CC(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "ex.c")
	if err := os.WriteFile(src, []byte(`#include <math.h>
#include <stdio.h>
int main(void) {
    float x;
    while (fread(&x, 4, 1, stdin) == 1) {
        volatile float v = x;
        float r = expf(v);
        fwrite(&r, 4, 1, stdout);
    }
    return 0;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ex")
	if out, err := exec.Command(c, "-O2", "-o", bin, src, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", c, err, out)
	}
	xs := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		88, -88, 0x1.62e42ep6, 0x1.62e430p6, -0x1.9fe368p6, -0x1.9fe36ap6, -0x1.9d1d9ep6, -103, -104, 1e-8, -1e-8}
	for b := uint64(0); b < 1<<32; b += 1 << 10 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for len(xs) < 2_000_000 {
		if rng.IntN(2) == 0 {
			xs = append(xs, -float32(rng.ExpFloat64()*4))
		} else {
			xs = append(xs, math.Float32frombits(rng.Uint32()))
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
		want := binary.LittleEndian.Uint32(out[4*i:])
		got := LibcExpf(x)
		same := math.Float32bits(got) == want || (math.IsNaN(float64(got)) && math.IsNaN(float64(math.Float32frombits(want))))
		if !same {
			if bad++; bad <= 5 {
				t.Errorf("LibcExpf(%g) = %g (%#08x), libc %g (%#08x)", x, got, math.Float32bits(got), math.Float32frombits(want), want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d arguments differ from the C library", bad, len(xs))
	}
}
