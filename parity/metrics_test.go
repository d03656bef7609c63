package parity

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/model"
)

func TestCompareByHand(t *testing.T) {
	a := []float64{1, 2, 3, 5}
	b := []float64{1, 2, 4, 4}
	m := Compare(a, b, F32)
	// errors 0 0 1 1; Σb² = 1+4+16+16 = 37; Σa² = 39; Σab = 1+4+12+20 = 37.
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"max_abs", float64(m.MaxAbs), 1},
		{"mean_abs", float64(m.MeanAbs), 0.5},
		{"rmse", float64(m.RMSE), math.Sqrt(0.5)},
		{"max_rel", float64(m.MaxRel), 0.25},
		{"nmse", float64(m.NMSE), 2.0 / 37},
		{"cos", float64(m.Cos), 37 / math.Sqrt(37*39)},
		{"sqnr_db", float64(m.SQNRdB), 10 * math.Log10(37.0/2)},
		{"rms_ref", float64(m.RMSRef), math.Sqrt(37.0 / 4)},
	} {
		assert.InEpsilon(t, c.want, c.got, 1e-15, c.name)
	}
	assert.Equal(t, 2, m.MaxAbsIndex, "max_abs_index: the first of the ties")
	// |3−4| in f32: 4 and 3 are 2^22 representable values apart (exponent
	// change at 4: 3 → 4 is 2^22 steps of 2^-22).
	assert.EqualValues(t, 1<<22, m.MaxULP, "max_ulp")
}

func TestULP(t *testing.T) {
	assert.EqualValues(t, 1, Compare([]float64{float64(math.Nextafter32(1, 2))}, []float64{1}, F32).MaxULP, "f32 next after 1")
	assert.EqualValues(t, 1, Compare([]float64{1 + 1.0/1024}, []float64{1}, F16).MaxULP, "f16 1+2^-10")
	assert.GreaterOrEqual(t, Compare([]float64{-1e-8}, []float64{1e-8}, F32).MaxULP, int64(1<<20), "a sign change")
	assert.Equal(t, 1.0/1024, F16.ULP(1), "f16 ulp(1)")
	assert.Equal(t, 0x1p-22, F32.ULP(3), "f32 ulp(3)")
}

func TestNonFinite(t *testing.T) {
	m := Compare([]float64{math.NaN(), math.Inf(1), 1}, []float64{1, 1, 1}, F32)
	if m.NaN != 1 || m.Inf != 1 || m.NonFinite != 2 || m.NMSE != 0 {
		t.Errorf("%+v", m)
	}
	// NaN where the oracle is NaN too is not a mismatch.
	if m := Compare([]float64{math.NaN()}, []float64{math.NaN()}, F32); m.NonFinite != 0 {
		t.Errorf("NaN vs NaN counted as mismatch")
	}
	// Non-finite metrics encode as JSON null.
	b, err := json.Marshal(Compare([]float64{1}, []float64{1}, F32))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	if back["sqnr_db"] != nil || back["nmse"] != 0.0 {
		t.Errorf("identical vectors: sqnr_db %v nmse %v", back["sqnr_db"], back["nmse"])
	}
}

func TestNoWorse(t *testing.T) {
	if ok, _ := NoWorse(2e-7, 1e-7, 1, F32); !ok {
		t.Error("2× the reference's error must pass")
	}
	if ok, bound := NoWorse(2.3e-7+0x1p-23, 1.1e-7, 1, F32); ok {
		t.Errorf("beyond 2×+1 ulp passed (bound %g)", bound)
	}
	if ok, _ := NoWorse(3e-3, 1e-3, 1, F16); !ok {
		t.Error("f16 uses m = 3")
	}
	// Both exact: the floor (one ulp at the scale) keeps a 1-ulp difference passing.
	if ok, _ := NoWorse(0x1p-24, 0, 1, F32); !ok {
		t.Error("half an ulp against an exact reference failed")
	}
}

func TestCaptureDoesNotChangeResults(t *testing.T) {
	m := openStories(t)
	p := newFake(t, "reference", m)
	toks := []int32{1, 403, 407}
	plain, _ := p.Forward(toks, 0)
	plain = slices.Clone(plain)
	p.Reset()
	c := NewCapture()
	p.SetHook(c.Hook())
	got, _ := p.Forward(toks, 0)
	if !slices.Equal(plain, got) {
		t.Fatal("capturing changed the logits")
	}
	p.Forward([]int32{261}, 3)
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	if s := c.Series["blk.2.q"]; s == nil || s.Rows != 4 || s.Cols != 64 || len(s.Data) != 4*64 {
		t.Fatalf("blk.2.q series %+v", s)
	}
	// Out-of-order positions are reported.
	c.Hook()(&model.Tensor{Name: "embd", Pos: 9, Rows: 1, Cols: 64, Data: make([]float32, 64)})
	if c.Err() == nil {
		t.Error("a position gap was not reported")
	}
}

func TestPerturbationDeterministic(t *testing.T) {
	p, err := ParsePerturb("dsl:blk.0.q=0.5")
	if err != nil {
		t.Fatal(err)
	}
	run := func() []float32 {
		h := p.Hook()
		x := &model.Tensor{Name: "blk.0.q", Rows: 1, Cols: 1000, Data: slices.Repeat([]float32{1}, 1000)}
		h(x)
		h(&model.Tensor{Name: "blk.0.k", Rows: 1, Cols: 3, Data: []float32{1, 1, 1}})
		return x.Data
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different perturbation")
	}
	lo, hi, sum2 := 2.0, 0.0, 0.0
	for _, v := range a {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		sum2 += (float64(v) - 1) * (float64(v) - 1)
	}
	// 1 + 0.5·u with u uniform in [−1, 1]: range ≈ [0.5, 1.5], mean square 0.25/3.
	if lo < 0.5 || hi > 1.5 || lo > 0.51 || hi < 1.49 {
		t.Errorf("range [%g, %g]", lo, hi)
	}
	if ms := sum2 / 1000; math.Abs(ms-0.25/3) > 0.01 {
		t.Errorf("mean square %g, want ≈ %g", ms, 0.25/3)
	}
}
