package parity

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/metallic-go/metallic/model"
)

// The heatmap's colour scale: log10(error/bound) from heatLow to
// heatHigh, white at 0 (the bound itself), blue below, red above; values
// outside take the end colours.
const (
	heatLow  = -6.0
	heatHigh = 6.0
)

// Heat is one panel of the error heatmap: one comparison (A against B;
// B empty when A names the comparison alone) over checkpoint kinds ×
// layers.
type Heat struct {
	A, B   string
	Kinds  []string    // rows, in execution order
	Layers int         // columns 0…Layers−1
	Ratio  [][]float64 // [kind][layer] error/bound; NaN where not compared
	Failed [][]bool    // [kind][layer] the row's verdict is a failure
}

// ErrorRatio returns a row's error relative to what its verdict compared
// it with (the quantity of the summary's "worst error/bound"): NMSE over
// the NMSE threshold for local and oracle-free rows, RMSE over the RMSE
// bound for fused-vs-reference rows; NaN for rows without a bound (fused,
// drift).
func ErrorRatio(r *Row) float64 {
	if r.Bound <= 0 || r.Verdict == Fused || r.Verdict == Info || r.N == 0 {
		return math.NaN()
	}
	e := float64(r.NMSE)
	if r.ErrA != 0 || r.ErrB != 0 {
		e = float64(r.ErrA)
	}
	return e / float64(r.Bound)
}

// Heats returns one panel per comparison of s (drift rows against the
// global oracle excluded), in the order the rows first name them.
func Heats(s *Steps) []*Heat {
	type key struct{ a, b string }
	var order []key
	cells := map[key]map[string]map[int]*Row{}
	layers := 0
	for i := range s.Rows {
		r := &s.Rows[i]
		if r.Layer < 0 || r.Verdict == Info {
			continue
		}
		k := key{r.A, r.B}
		if cells[k] == nil {
			cells[k] = map[string]map[int]*Row{}
			order = append(order, k)
		}
		kind, _, err := model.ParseCheckpoint(r.Checkpoint)
		if err != nil {
			continue
		}
		if cells[k][kind] == nil {
			cells[k][kind] = map[int]*Row{}
		}
		cells[k][kind][r.Layer] = r
		layers = max(layers, r.Layer+1)
	}
	var out []*Heat
	for _, k := range order {
		h := &Heat{A: k.a, B: k.b, Layers: layers}
		for _, kind := range model.Kinds() { // graph order; only per-block kinds have cells
			byLayer, ok := cells[k][kind]
			if !ok {
				continue
			}
			ratio, failed := make([]float64, layers), make([]bool, layers)
			for l := range ratio {
				ratio[l] = math.NaN()
				if r := byLayer[l]; r != nil {
					ratio[l], failed[l] = ErrorRatio(r), r.Failed()
				}
			}
			h.Kinds = append(h.Kinds, kind)
			h.Ratio = append(h.Ratio, ratio)
			h.Failed = append(h.Failed, failed)
		}
		compared := false
		for _, row := range h.Ratio {
			for _, v := range row {
				compared = compared || !math.IsNaN(v)
			}
		}
		if compared { // a panel of fused rows only says nothing
			out = append(out, h)
		}
	}
	return out
}

// heatGrid is a Heat as a plotter.GridXYZ: column = layer, row 0 at the
// top (the first kind), z = log10(ratio) (−Inf for an exact 0 clamps to
// the low end by the heat map's underflow colour).
type heatGrid struct{ h *Heat }

func (g heatGrid) Dims() (c, r int) { return g.h.Layers, len(g.h.Kinds) }
func (g heatGrid) Z(c, r int) float64 {
	v := g.h.Ratio[len(g.h.Kinds)-1-r][c]
	if v == 0 {
		return heatLow - 1
	}
	return math.Log10(v)
}
func (g heatGrid) X(c int) float64 { return float64(c) }
func (g heatGrid) Y(r int) float64 { return float64(r) }

// RenderPlot draws the error heatmap of s as a PNG: one panel per
// comparison, checkpoint kind (rows, in execution order) × layer
// (columns), colour = log10(error/bound) — white at the bound, blue below,
// red above, grey where the checkpoint was not compared (fused) — and
// every failing cell marked with a black cross; a colour bar at the
// bottom. Comparisons with no compared cell (fused rows only) get no panel.
func RenderPlot(s *Steps) ([]byte, error) { return RenderHeats(Heats(s)) }

// RenderHeats draws heat panels as RenderPlot does (for goldens and other
// comparisons that are not a Steps report).
func RenderHeats(heats []*Heat) ([]byte, error) {
	if len(heats) == 0 {
		return nil, fmt.Errorf("parity: nothing to plot (no per-layer comparisons)")
	}
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(heatLow)
	cmap.SetMax(heatHigh)
	pal := cmap.Palette(255)
	var plots [][]*plot.Plot
	height := vg.Length(0)
	for _, h := range heats {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s vs %s: log10(error / bound)", h.A, h.B)
		if h.B == "" {
			p.Title.Text = h.A + ": log10(error / bound)"
		}
		p.X.Label.Text = "layer"
		hm := plotter.NewHeatMap(heatGrid{h}, pal)
		hm.Min, hm.Max = heatLow, heatHigh
		hm.Underflow, hm.Overflow = pal.Colors()[0], pal.Colors()[len(pal.Colors())-1]
		hm.NaN = color.Gray{Y: 200}
		p.Add(hm)
		var fails plotter.XYs
		for i, row := range h.Failed {
			for l, f := range row {
				if f {
					fails = append(fails, plotter.XY{X: float64(l), Y: float64(len(h.Kinds) - 1 - i)})
				}
			}
		}
		if len(fails) > 0 {
			sc, err := plotter.NewScatter(fails)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CrossGlyph{}, Radius: vg.Points(5), Color: color.Black}
			p.Add(sc)
		}
		var yt []plot.Tick
		for i, k := range h.Kinds {
			yt = append(yt, plot.Tick{Value: float64(len(h.Kinds) - 1 - i), Label: k})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(yt)
		var xt []plot.Tick
		for l := range h.Layers {
			xt = append(xt, plot.Tick{Value: float64(l), Label: fmt.Sprint(l)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(xt)
		p.X.Min, p.X.Max = -0.5, float64(h.Layers)-0.5
		p.Y.Min, p.Y.Max = -0.5, float64(len(h.Kinds))-0.5
		plots = append(plots, []*plot.Plot{p})
		height += vg.Length(len(h.Kinds))*0.28*vg.Inch + 1.3*vg.Inch
	}
	bar := plot.New()
	bar.Title.Text = "log10(error / bound): 0 is the bound; a cross marks a failure; grey: not compared"
	bar.HideY()
	bar.Add(&plotter.ColorBar{ColorMap: cmap})
	plots = append(plots, []*plot.Plot{bar})
	height += 1.1 * vg.Inch

	width := vg.Length(max(8, 2+heats[0].Layers/2)) * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	// Tiles of equal height do not suit panels of different row counts:
	// lay the panels out top to bottom by hand.
	top := height
	for i, row := range plots {
		ph := 1.1 * vg.Inch
		if i < len(heats) {
			ph = vg.Length(len(heats[i].Kinds))*0.28*vg.Inch + 1.3*vg.Inch
		}
		pad := 0.1 * vg.Inch
		c := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: dc.Min.X + pad, Y: top - ph + pad}, Max: vg.Point{X: dc.Max.X - pad, Y: top - pad}}}
		row[0].Draw(c)
		top -= ph
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("parity: plot: %w", err)
	}
	return buf.Bytes(), nil
}

// WritePlot writes RenderPlot's PNG to file (which must end in .png).
func WritePlot(s *Steps, file string) error {
	if !strings.EqualFold(filepath.Ext(file), ".png") {
		return fmt.Errorf("parity: --plot %q: only .png files are written", file)
	}
	png, err := RenderPlot(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		return fmt.Errorf("parity: --plot: %w", err)
	}
	return nil
}
