package parity

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/metallic-go/metallic/model"
)

// fidelityAgg is one op kind of a fidelity table, summed over layers and
// forward calls.
type fidelityAgg struct {
	values, differ, n, fail int
	maxULP                  int64
	nmse, oracle, oracleB   float64 // the largest of the rows
	bound, worst            float64 // bound of the worst row (oracle/bound)
}

// PrintFidelity writes f as a table: one row per op kind, summed over
// layers and forward calls (values, differing values, max ulp and NMSE
// against B; when judged, the largest NMSE of A and of B against their
// float64 local oracle, the bound and the verdict), then the first op out
// of its bound, or the first differing one.
func PrintFidelity(w io.Writer, f *Fidelity) error {
	fmt.Fprintf(w, "teacher-forced op fidelity: %s's ops on %s's inputs, %d positions\n", f.A, f.B, len(f.Tokens))
	fmt.Fprintln(w, f.Setup.Header())
	fmt.Fprintln(w, NumericsLine([]string{f.A, f.B}, f.Numerics))
	var kinds []string
	by := map[string]*fidelityAgg{}
	for _, r := range f.Rows {
		g := by[r.Op]
		if g == nil {
			g = &fidelityAgg{worst: -1}
			by[r.Op] = g
			kinds = append(kinds, r.Op)
		}
		g.values += r.Values
		g.differ += r.Differ
		g.n++
		g.maxULP = max(g.maxULP, r.MaxULP)
		g.nmse = max(g.nmse, float64(r.NMSE))
		if f.Judged {
			g.oracle, g.oracleB = max(g.oracle, float64(r.OracleNMSE)), max(g.oracleB, float64(r.OracleNMSEB))
			if ratio := float64(r.OracleNMSE) / max(float64(r.Bound), 1e-300); ratio > g.worst || r.Failed() {
				g.worst, g.bound = ratio, float64(r.Bound)
			}
			if r.Failed() {
				g.fail++
			}
		}
	}
	rank := map[string]int{}
	for i, k := range model.Kinds() {
		rank[k] = i
	}
	slices.SortStableFunc(kinds, func(x, y string) int { return rank[x] - rank[y] })
	fmt.Fprintf(w, "a = %s (its ops checked), b = %s (the inputs)", f.A, f.B)
	if f.Judged {
		fmt.Fprint(w, "; nmse against the float64 local oracle from the same inputs, bound as in steps' local rows")
	}
	fmt.Fprintln(w)
	tw := tablewriter.NewWriter(w)
	head := []any{"op", "checkpoints", "values", "differ", "max ulp", "nmse a vs b"}
	if f.Judged {
		head = append(head, "nmse a vs f64", "nmse b vs f64", "bound")
	}
	tw.Header(append(head, "verdict")...)
	for _, k := range kinds {
		g := by[k]
		cells := []string{k, fmt.Sprint(g.n), fmt.Sprint(g.values), fmt.Sprint(g.differ), fmt.Sprint(g.maxULP), fmt.Sprintf("%.3g", g.nmse)}
		v := "identical"
		if g.differ > 0 {
			v = "differs"
		}
		if f.Judged {
			cells = append(cells, fmt.Sprintf("%.3g", g.oracle), fmt.Sprintf("%.3g", g.oracleB), fmt.Sprintf("%.3g", g.bound))
			v = Pass
			if g.fail > 0 {
				v = fmt.Sprintf("%s (%d of %d)", Fail, g.fail, g.n)
			}
		}
		if err := tw.Append(append(cells, v)); err != nil {
			return err
		}
	}
	if err := tw.Render(); err != nil {
		return err
	}
	if len(f.Missing) > 0 {
		fmt.Fprintf(w, "not materialized by %s (not compared): %s\n", f.A, strings.Join(f.Missing, ", "))
	}
	switch {
	case f.FirstFailure != nil:
		r := f.FirstFailure
		fmt.Fprintf(w, "FIRST OP OUT OF BOUNDS: %s (layer %d, op %s) at position %d: %s's nmse %.3g against its float64 oracle exceeds %.3g", r.Checkpoint, r.Layer, r.Op, r.Pos,
			f.A, float64(r.OracleNMSE), float64(r.Bound))
		if r.NonFinite > 0 {
			fmt.Fprintf(w, " (%d non-finite values)", r.NonFinite)
		}
		fmt.Fprintf(w, "; %s's own nmse %.3g on the same inputs; max %d ulp apart", f.B, float64(r.OracleNMSEB), r.MaxULP)
		if r.First != "" {
			fmt.Fprintf(w, ", first %s", r.First)
		}
		fmt.Fprintln(w)
		return nil
	case f.Identical:
		fmt.Fprintf(w, "every op of %s reproduces %s bit for bit given the same inputs\n", f.A, f.B)
		return nil
	case f.Judged:
		r := f.FirstDiffer
		fmt.Fprintf(w, "every op of %s is within its bound of the float64 oracle given %s's inputs (first differing op %s at position %d, max %d ulp)\n",
			f.A, f.B, r.Checkpoint, r.Pos, r.MaxULP)
		return nil
	}
	r := f.FirstDiffer
	fmt.Fprintf(w, "first differing op: %s at position %d (%d of %d values, max %d ulp; first %s)\n", r.Checkpoint, r.Pos, r.Differ, r.Values, r.MaxULP, r.First)
	return nil
}
