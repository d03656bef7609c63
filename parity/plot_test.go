package parity

import (
	"bytes"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeats: one panel per comparison (drift rows and fused-only
// comparisons dropped), checkpoint kinds in execution order as rows,
// layers as columns, error/bound per cell (NMSE/threshold, or the
// candidate's RMSE over the RMSE bound for fused-vs-reference rows), NaN
// where not compared, failures marked.
func TestHeats(t *testing.T) {
	s := &Steps{Rows: []Row{
		{Checkpoint: "blk.0.q", Layer: 0, A: "dsl", B: LocalOracle, Metrics: Metrics{N: 4, NMSE: 1e-10}, Bound: 1e-8, Verdict: Pass},
		{Checkpoint: "blk.1.ffn_act", Layer: 1, A: "dsl", B: LocalOracle, Metrics: Metrics{N: 4, NMSE: 3e-7}, Bound: 1e-8, Verdict: Fail},
		{Checkpoint: "blk.0.ffn_act", Layer: 0, A: "dsl", B: LocalOracle, Metrics: Metrics{N: 4}, Bound: 1e-8, Verdict: Pass},
		{Checkpoint: "blk.0.q", Layer: 0, A: "dsl", B: GlobalOracle, Metrics: Metrics{N: 4, NMSE: 1}, Verdict: Info},
		{Checkpoint: "blk.0.q", Layer: 0, A: "dsl", B: "reference", Metrics: Metrics{N: 4, NMSE: 1}, ErrA: 2e-6, ErrB: 1e-6, Bound: 4e-6, Verdict: Pass},
		{Checkpoint: "blk.0.attn_norm", Layer: 0, A: "reference", B: "dsl", Verdict: Fused},
		{Checkpoint: "logits", Layer: -1, A: "dsl", B: LocalOracle, Metrics: Metrics{N: 4, NMSE: 1e-9}, Bound: 1e-8, Verdict: Pass},
	}}
	hs := Heats(s)
	if len(hs) != 2 {
		t.Fatalf("%d panels, want 2 (dsl vs local, dsl vs reference)", len(hs))
	}
	h := hs[0]
	if h.A != "dsl" || h.B != LocalOracle || h.Layers != 2 || strings.Join(h.Kinds, ",") != "q,ffn_act" {
		t.Fatalf("panel %s vs %s: %d layers, kinds %v", h.A, h.B, h.Layers, h.Kinds)
	}
	want := [][]float64{{1e-2, math.NaN()}, {0, 30}}
	for i := range want {
		for l, w := range want[i] {
			got := h.Ratio[i][l]
			if !(math.IsNaN(w) && math.IsNaN(got)) && math.Abs(got-w) > 1e-12*math.Max(1, w) {
				t.Errorf("%s layer %d: ratio %g, want %g", h.Kinds[i], l, got, w)
			}
		}
	}
	if !h.Failed[1][1] || h.Failed[0][0] || h.Failed[1][0] {
		t.Errorf("failure marks %v, want only ffn_act at layer 1", h.Failed)
	}
	if r := hs[1].Ratio[0][0]; r != 0.5 {
		t.Errorf("fused-vs-reference ratio %g, want RMSE 2e-6 / bound 4e-6 = 0.5", r)
	}
	img, err := RenderPlot(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("RenderPlot: not a PNG: %v", err)
	}
	if err := WritePlot(s, filepath.Join(t.TempDir(), "x.jpg")); err == nil {
		t.Error("WritePlot wrote a .jpg")
	}
	if _, err := RenderPlot(&Steps{}); err == nil {
		t.Error("RenderPlot of no rows did not fail")
	}
}
