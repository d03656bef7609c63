package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
)

// TestSumLanes64: the row-at-a-time reduction of a one-query attention's
// V lanes gives every dim the bits of ggmlnum.DotF32Lanes.Sum.
func TestSumLanes64(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, hd := range []int{1, 3, 64, 80, 128} {
		t.Run(fmt.Sprintf("hd=%d", hd), func(t *testing.T) {
			lanes := make([]float32, 64*hd)
			for i := range lanes {
				lanes[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-20)))
			}
			want := make([]float32, hd)
			for i := range want {
				var a ggmlnum.DotF32Lanes
				for l := range a {
					a[l] = lanes[l*hd+i]
				}
				want[i] = a.Sum()
			}
			got := make([]float32, hd)
			sumLanes64(got, lanes, hd)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("dim %d: got %g, want %g", i, got[i], want[i])
				}
			}
		})
	}
}
