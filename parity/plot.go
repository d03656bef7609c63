package parity

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/metallic-go/metallic/model"
)

// nmseFloor stands in for an NMSE of exactly 0 on the log axis.
const nmseFloor = 1e-20

// WritePlot draws error against layer to a PNG file: one panel per pair
// of a path and what it was compared with (local oracle, global oracle,
// another path), one line per checkpoint kind, y = log10(NMSE).
func WritePlot(s *Steps, file string) error {
	if !strings.EqualFold(filepath.Ext(file), ".png") {
		return fmt.Errorf("parity: --plot %q: only .png files are written", file)
	}
	type key struct{ a, b string }
	var pairs []key
	series := map[key]map[string]plotter.XYs{}
	for _, r := range s.Rows {
		if r.Layer < 0 || r.Verdict == Fused || r.N == 0 {
			continue
		}
		k := key{r.A, r.B}
		if series[k] == nil {
			series[k] = map[string]plotter.XYs{}
			pairs = append(pairs, k)
		}
		kind, _, _ := model.ParseCheckpoint(r.Checkpoint)
		series[k][kind] = append(series[k][kind], plotter.XY{X: float64(r.Layer), Y: math.Log10(math.Max(float64(r.NMSE), nmseFloor))})
	}
	if len(pairs) == 0 {
		return fmt.Errorf("parity: nothing to plot (no per-layer comparisons)")
	}
	plots := make([][]*plot.Plot, len(pairs))
	for i, k := range pairs {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s vs %s", k.a, k.b)
		p.X.Label.Text = "layer"
		p.Y.Label.Text = "log10 NMSE"
		p.Legend.Top = true
		var args []any
		for _, kind := range model.Kinds() {
			if xy, ok := series[k][kind]; ok {
				args = append(args, kind, xy)
			}
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(10*vg.Inch, vg.Length(len(pairs))*4*vg.Inch)
	dc := draw.New(img)
	canvases := plot.Align(plots, draw.Tiles{Rows: len(pairs), Cols: 1, PadY: vg.Centimeter}, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("parity: --plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("parity: --plot: %w", err)
	}
	return f.Close()
}
