package vecdot

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// TestRoundTiesHand: hand-computed ambiguous elements, one just above and
// one just below a rounding boundary, one exactly on it, and clear ones.
func TestRoundTiesHand(t *testing.T) {
	eps := math.Ldexp(1, -20) // 2^-20: well inside 2^-16 of 2.5 and of 1
	cases := []struct {
		name string
		ty   gguf.Type
		row  []float64 // the rest of the block is zero
		want []Tie
	}{
		// amax 127: id = 1, d = 1, the scaled value is x itself.
		{"q8_0", gguf.TypeQ8_0, []float64{127, 2.5 + eps, 2.5 - eps, 2.5, 3.4, 7.5 + 1e-3, -4.5 - eps},
			[]Tie{{Index: 1, Delta: -1}, {Index: 2, Delta: 1}, {Index: 3, Delta: 1}, {Index: 6, Delta: 1}}},
		// amax 63.5: id = 2, d = f16(0.5) = 0.5; 1.25 scales to the boundary 2.5.
		{"q8_0 scaled", gguf.TypeQ8_0, []float64{63.5, 1.25 + eps, 1.3},
			[]Tie{{Index: 1, Delta: -0.5}}},
		// m = −127 (the first of largest magnitude): iscale = 1, d = 1.
		{"q8_K", gguf.TypeQ4_K, []float64{-127, 2.5 + eps, 2.5 - eps, 127, 10.2},
			[]Tie{{Index: 1, Delta: -1}, {Index: 2, Delta: 1}}},
		// f16 around 1: spacing 2^-10, the midpoint 1+2^-11; around 2 from
		// below: 2−2^-11 is the midpoint of 2−2^-10 and 2.
		{"f16", gguf.TypeF16, []float64{1 + 0x1p-11 + eps, 1 + 0x1p-11 - eps, 1 + 0x1p-12, -(1 + 0x1p-11 + eps), 2 - 0x1p-11 + eps, 1},
			[]Tie{{Index: 0, Delta: -0x1p-10}, {Index: 1, Delta: 0x1p-10}, {Index: 3, Delta: 0x1p-10}, {Index: 4, Delta: -0x1p-10}}},
		{"bf16", gguf.TypeBF16, []float64{1 + 0x1p-8 + eps, 1 + 0x1p-9},
			[]Tie{{Index: 0, Delta: -0x1p-7}}},
		{"f32", gguf.TypeF32, []float64{1 + 0x1p-11 + eps, 2.5}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := ClassOf(c.ty).Block()
			if n == 1 {
				n = len(c.row)
			}
			x := make([]float64, n)
			copy(x, c.row)
			want := append([]float64(nil), x...)
			Round(c.ty, want)
			got := RoundTies(c.ty, x)
			if len(got) != len(c.want) {
				t.Fatalf("ties %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].Scale != nil || got[i].Index != c.want[i].Index || got[i].Delta != c.want[i].Delta {
					t.Errorf("tie %d: got %+v, want %+v", i, got[i], c.want[i])
				}
			}
			for i := range x {
				if math.Float64bits(x[i]) != math.Float64bits(want[i]) {
					t.Errorf("element %d rounded to %g, Round gives %g", i, x[i], want[i])
				}
			}
		})
	}
}

// TestRoundTiesAlternate: on random rows, RoundTies rounds as Round does,
// and each tie's alternate is what Round makes of the element once its
// input is moved just across the boundary (scaled by the same block
// scale: the element is not the block's largest).
func TestRoundTiesAlternate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_K} {
		t.Run(ty.String(), func(t *testing.T) {
			found := 0
			bs := ClassOf(ty).Block()
			for range 60 {
				row := make([]float64, 512)
				for i := range row {
					row[i] = float64(float32(rng.NormFloat64()))
				}
				want := append([]float64(nil), row...)
				Round(ty, want)
				got := append([]float64(nil), row...)
				ties := RoundTies(ty, got)
				for i := range got {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
						t.Fatalf("element %d: RoundTies %g, Round %g", i, got[i], want[i])
					}
				}
				for _, tie := range ties {
					if tie.Scale != nil {
						continue // TestRoundTiesScale
					}
					found++
					b := tie.Index / bs * bs // the element's block
					alt := append([]float64(nil), row[b:b+bs]...)
					j := tie.Index - b
					// Walk the element's float32 input away from its rounding,
					// toward the alternate, until the rounding changes.
					dir := math.Copysign(1, tie.Delta)
					v := float32(row[tie.Index])
					for k := 0; k < 1<<12; k++ {
						v = math.Nextafter32(v, float32(dir*math.Inf(1)))
						alt[j] = float64(v)
						r := append([]float64(nil), alt...)
						Round(ty, r)
						if r[j] != want[tie.Index] {
							if r[j]-want[tie.Index] != tie.Delta {
								t.Fatalf("element %d (%g): across the boundary it rounds to %g, want %g + %g", tie.Index, row[tie.Index], r[j], want[tie.Index], tie.Delta)
							}
							break
						}
					}
				}
			}
			if found == 0 {
				t.Fatal("no ties in 60 random rows: the test checks nothing")
			}
		})
	}
}

// TestRoundTiesScale: a Q8_0 block whose float32(amax/127) is an f16
// midpoint, 1 + 2^-11 (amax = 127·(1 + 2^-11)), rounds d to 1 (ties to
// even); d′ = 1 + 2^-10, and each element changes by q·2^-10.
func TestRoundTiesScale(t *testing.T) {
	x := make([]float64, 32)
	x[0], x[1], x[2] = 127*(1+0x1p-11), 10, -3
	ties := RoundTies(gguf.TypeQ8_0, x)
	if len(ties) != 1 || ties[0].Index != 0 || len(ties[0].Scale) != 32 {
		t.Fatalf("ties %+v, want one scale tie of block 0", ties)
	}
	want := map[int]float64{0: 127 * 0x1p-10, 1: 10 * 0x1p-10, 2: -3 * 0x1p-10}
	for i, v := range ties[0].Scale {
		if v != want[i] {
			t.Errorf("element %d changes by %g, want %g", i, v, want[i])
		}
	}
	if x[0] != 127 || x[1] != 10 || x[2] != -3 {
		t.Errorf("rounded to %v, want d = 1: 127, 10, -3", x[:3])
	}
}
