package dsl

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// oracle64 returns every checkpoint of tokens (from position 0) by full
// name as parity/oracle's global float64 forward computes it: unfused,
// exactly dequantized weights, activations not rounded.
func oracle64(t testing.TB, m *model.Model, tokens []int32) map[string][]float64 {
	t.Helper()
	ev, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: tokens})
	require.NoError(t, err)
	res := map[string][]float64{}
	for _, name := range model.NewGraph(&m.Config).Names() {
		r, err := ev.Value(name)
		require.NoError(t, err, name)
		res[name] = r.Data
	}
	return res
}

// closeTo checks got against the oracle with abs + |ref|·rel, abs scaled
// by the oracle's RMS.
func closeTo(t testing.TB, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, oracle has %d", name, len(got), len(want))
	}
	var rms float64
	for _, w := range want {
		rms += w * w
	}
	rms = math.Sqrt(rms / float64(len(want)))
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*rms+tol*math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, float64 oracle %g (|diff| %.3g, tol %.3g·(rms %.3g + |ref|))", name, i, got[i], want[i], d, tol, rms)
		}
	}
}
