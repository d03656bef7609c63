package llamacpp

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// TestGatherScatterStrided reads a permuted F16 view and an F32 tensor by
// their strides and writes changes back to the right bytes.
func TestGatherScatterStrided(t *testing.T) {
	// Storage: a contiguous [T=3][heads=2][hd=4] F16 array, viewed as
	// ne = [hd, heads, T] with nb = [2, 8, 16] (contiguous), and as the
	// permuted view ne = [hd, T, heads] with nb = [2, 16, 8].
	const hd, heads, T = 4, 2, 3
	raw := make([]byte, hd*heads*T*2)
	val := func(p, h, i int) float32 { return float32(100*p + 10*h + i) }
	for p := range T {
		for h := range heads {
			for i := range hd {
				binary.LittleEndian.PutUint16(raw[2*(p*heads*hd+h*hd+i):], gguf.F32ToF16(val(p, h, i)))
			}
		}
	}
	data, offs, err := gather(raw, ggmlTypeF16, [4]int64{hd, heads, T, 1}, [4]uint64{2, 2 * hd, 2 * hd * heads, 0})
	if err != nil {
		t.Fatal(err)
	}
	for p := range T {
		for h := range heads {
			for i := range hd {
				if got, want := data[p*heads*hd+h*hd+i], val(p, h, i); got != want {
					t.Fatalf("row %d col %d = %v, want %v", p, h*hd+i, got, want)
				}
			}
		}
	}
	perm, _, err := gather(raw, ggmlTypeF16, [4]int64{hd, T, heads, 1}, [4]uint64{2, 2 * hd * heads, 2 * hd, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := perm[1*T*hd+2*hd+3], val(2, 1, 3); got != want {
		t.Errorf("permuted view [h=1][p=2][i=3] = %v, want %v", got, want)
	}
	// Write back one changed element, rounded to F16.
	orig := append([]float32(nil), data...)
	data[5] = 1.0 / 3
	if !scatter(raw, ggmlTypeF16, offs, orig, data) {
		t.Fatal("scatter reported no change")
	}
	if got := gguf.F16ToF32(binary.LittleEndian.Uint16(raw[2*5:])); got != gguf.F16ToF32(gguf.F32ToF16(1.0/3)) {
		t.Errorf("written back %v", got)
	}
	if scatter(raw, ggmlTypeF16, offs, data, data) {
		t.Error("scatter of unchanged data reported a change")
	}
	// F32 with a row stride larger than the row (a view into a wider row).
	raw32 := make([]byte, 4*8*2)
	for i := range 16 {
		binary.LittleEndian.PutUint32(raw32[4*i:], math.Float32bits(float32(i)))
	}
	d32, _, err := gather(raw32, ggmlTypeF32, [4]int64{3, 2, 1, 1}, [4]uint64{4, 32, 64, 0})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 2, 8, 9, 10}; len(d32) != 6 || d32[3] != want[3] || d32[5] != want[5] {
		t.Errorf("strided F32 = %v, want %v", d32, want)
	}
	if _, _, err := gather(raw32[:20], ggmlTypeF32, [4]int64{3, 2, 1, 1}, [4]uint64{4, 32, 64, 0}); err == nil {
		t.Error("gather past the end of the buffer did not fail")
	}
}
