package parity

import (
	"fmt"

	"github.com/metallic-go/metallic/parity/oracle"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
)

// Activation quantization ties (oracle.Tie): where a local oracle had to
// recompute a mul_mat's input that the path fused away, an element whose
// rounding lies within vecdot.TieRel of a boundary may legitimately round
// the other way in the path. The judge resolves each such tie against the
// path's values: per position, in the oracle's order, a tie's exact
// change d of the row is applied to the expectation when it lowers that
// row's squared error against the path by more than half of |d|² (the
// path's row lies clearly on the flipped side: a tie whose effect is lost
// in the row's own rounding noise is left alone). The row is then judged, at its
// unchanged bound, against the resolved expectation, and its note says how
// many ties were resolved and the NMSE before. Ties are resolved only for
// a row that fails its bound against the unresolved expectation: a row
// that passes as it is keeps its numbers and its note. A tie is one
// rounding step of one element: it cannot absorb a fault spread over a
// row, which still fails.

// resolved is a local expectation after tie resolution.
type resolved struct {
	want    []float64 // rows [p0, p1) of the expectation
	applied int       // ties applied
	capped  int       // positions whose ties were too many to list
}

// resolveTies resolves res's ties of rows [p0, p1) against got, the
// path's values of those rows (row-major, res.Cols wide), when got fails
// the row's bound th (NMSE, values stored in dt) against the unresolved
// expectation; otherwise it returns that expectation as it is.
func resolveTies[A float32 | float64](got []A, res *oracle.Result, p0, p1 int, dt DType, th float64) (resolved, error) {
	cols := res.Cols
	out := resolved{want: res.Data[p0*cols : p1*cols]}
	if m := compare(got, out.want, dt); m.NonFinite == 0 && float64(m.NMSE) <= th {
		return out, nil
	}
	out.capped = res.TiesCapped
	copied := false
	rowErr := map[int]float64{} // current squared error of a row with ties
	for _, t := range res.Ties {
		if t.Pos < p0 || t.Pos >= p1 {
			continue
		}
		o := (t.Pos - p0) * cols
		e, ok := rowErr[t.Pos]
		if !ok {
			for i, v := range out.want[o : o+cols] {
				x := v - float64(got[o+i])
				e += x * x
			}
			rowErr[t.Pos] = e
		}
		// Applying a direction d changes the squared error by
		// |d|² + 2(w−g)·d ≥ |d|(|d| − 2|w−g|): never by −|d|²/2 or less
		// when |d|² ≥ (16/9)·e (a margin of 2^-20 covers the sums'
		// rounding).
		if n2, known, err := t.Norm2(); err != nil {
			return resolved{}, err
		} else if known && n2 >= 16.0/9*e*(1+0x1p-20) {
			continue
		}
		d, err := t.Dir()
		if err != nil {
			return resolved{}, err
		}
		if len(d) != cols {
			return resolved{}, fmt.Errorf("parity: tie %s at position %d has %d values, want %d", t.Key, t.Pos, len(d), cols)
		}
		g, w := got[o:o+cols], out.want[o:o+cols]
		// The squared error changes by Σ 2·(w−g)·d + d² if applied.
		var change, n2 float64
		for i, v := range d {
			change += (2*(w[i]-float64(g[i])) + v) * v
			n2 += v * v
		}
		if !(change < -n2/2) {
			continue
		}
		if !copied {
			out.want, copied = append([]float64(nil), out.want...), true
			w = out.want[o : o+cols]
		}
		for i, v := range d {
			w[i] += v
		}
		rowErr[t.Pos] = e + change
		out.applied++
	}
	return out, nil
}

// note describes the resolution for a row's note ("" when nothing was
// resolved or capped); before is the NMSE against the unresolved
// expectation.
func (r resolved) note(before Num) string {
	s := ""
	if r.applied > 0 {
		s = fmt.Sprintf("%d activation quantization tie%s (within 2^%d of a rounding boundary) resolved the path's way; unresolved nmse %.3g",
			r.applied, plural(r.applied), exponent(vecdot.TieRel), float64(before))
	}
	if r.capped > 0 {
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf("ties not resolved at %d position%s (more than %d)", r.capped, plural(r.capped), oracle.MaxTiesPerPos)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// exponent is log2 of a power of two.
func exponent(p float64) int {
	e := 0
	for ; p < 1; p *= 2 {
		e--
	}
	return e
}
