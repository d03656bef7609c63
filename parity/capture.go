package parity

import (
	"fmt"

	"github.com/metallic-go/metallic/model"
)

// Series is one checkpoint of one path over a whole run: the rows of every
// forward call (prefill, then each decode step) concatenated by position.
type Series struct {
	Name  string
	Layer int
	Cols  int
	Rows  int       // positions captured so far: 0 … Rows−1
	Data  []float32 // row-major [Rows, Cols], copied from the path; nil once judged under StepsOptions.DropCaptures
}

// Call records one forward call.
type Call struct {
	Pos, Rows int
}

// Capture records every checkpoint a path materializes, copying the data, so
// that the path computes exactly what it computes without it.
type Capture struct {
	// Order lists full checkpoint names in the order first produced.
	Order  []string
	Series map[string]*Series
	Calls  []Call
	// positions, when set, is how many positions the run will capture:
	// each series is allocated at its full size once.
	positions int
	err       error
}

// NewCapture returns an empty capture.
func NewCapture() *Capture { return &Capture{Series: map[string]*Series{}} }

// Hook returns the hook that records into c.
func (c *Capture) Hook() model.Hook {
	return func(t *model.Tensor) { c.record(t) }
}

// Begin notes the start of a forward call at pos with rows positions.
func (c *Capture) Begin(pos, rows int) { c.Calls = append(c.Calls, Call{pos, rows}) }

func (c *Capture) record(t *model.Tensor) {
	if c.err != nil {
		return
	}
	if t.Rows*t.Cols != len(t.Data) {
		c.err = fmt.Errorf("parity: checkpoint %s: %d×%d but %d values", t.Name, t.Rows, t.Cols, len(t.Data))
		return
	}
	s, ok := c.Series[t.Name]
	if !ok {
		s = &Series{Name: t.Name, Layer: t.Layer, Cols: t.Cols}
		if c.positions > 0 && t.Pos == 0 && t.Rows <= c.positions {
			s.Data = make([]float32, 0, c.positions*t.Cols)
		}
		c.Series[t.Name] = s
		c.Order = append(c.Order, t.Name)
	}
	switch {
	case t.Cols != s.Cols:
		c.err = fmt.Errorf("parity: checkpoint %s changed width from %d to %d", t.Name, s.Cols, t.Cols)
	case t.Pos != s.Rows:
		c.err = fmt.Errorf("parity: checkpoint %s produced position %d, expected %d (each position exactly once, in order)", t.Name, t.Pos, s.Rows)
	default:
		s.Data = append(s.Data, t.Data...)
		s.Rows += t.Rows
	}
}

// Err reports the first inconsistency seen (a checkpoint produced twice for
// a position, or with a changing width).
func (c *Capture) Err() error { return c.err }

// Float64 returns the named series widened to float64, when captured.
func (c *Capture) Float64(name string) ([]float64, bool) {
	s, ok := c.Series[name]
	if !ok {
		return nil, false
	}
	return widen(s.Data), true
}

// Chain returns a hook that calls each non-nil hook in order.
func Chain(hooks ...model.Hook) model.Hook {
	var hs []model.Hook
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(t *model.Tensor) {
		for _, h := range hs {
			h(t)
		}
	}
}
