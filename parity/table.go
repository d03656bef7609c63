package parity

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	twopt "github.com/olekukonko/tablewriter/tw"

	"github.com/metallic-go/metallic/model"
)

// PrintOptions control the text rendering of reports.
type PrintOptions struct {
	// Color highlights failures with ANSI escapes (only for terminals).
	Color bool
	// All includes the informational drift rows (path vs global oracle).
	All bool
}

const (
	red   = "\x1b[1;31m"
	green = "\x1b[32m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return code + s + reset
}

func g3(n Num) string {
	return strconv.FormatFloat(float64(n), 'g', 3, 64)
}

// PrintSteps writes s as a table, one row per checkpoint and comparison,
// failures highlighted and the first failure named at the bottom.
func PrintSteps(w io.Writer, s *Steps, o PrintOptions) error {
	fmt.Fprintf(w, "step parity: %s, paths %s, %d positions (prompt %d)", s.Arch, strings.Join(s.Paths, ","), len(s.Tokens), s.PromptLen)
	if len(s.Perturb) > 0 {
		fmt.Fprintf(w, ", perturbed %s", strings.Join(s.Perturb, " "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, s.Setup.Header())
	fmt.Fprintln(w, NumericsLine(s.Paths, s.Numerics))
	if len(s.Rounding) > 0 {
		var parts []string
		for _, p := range s.Paths {
			if r, ok := s.Rounding[p]; ok {
				parts = append(parts, p+" "+r)
			}
		}
		fmt.Fprintf(w, "local oracle's mul_mat input rounding (from the declared numerics): %s\n", strings.Join(parts, ", "))
	}
	tw := tablewriter.NewTable(w, tablewriter.WithRowMergeMode(twopt.MergeHierarchical))
	tw.Header("checkpoint", "a", "b", "max_abs", "mean_abs", "nmse", "cos", "max_ulp", "bound", "verdict")
	counts := map[string]int{}
	for _, r := range s.Rows {
		counts[r.Verdict]++
		if r.Verdict == Info && !o.All {
			continue
		}
		cells := []string{r.Checkpoint, r.A, r.B, g3(r.MaxAbs), g3(r.MeanAbs), g3(r.NMSE),
			strconv.FormatFloat(float64(r.Cos), 'f', 9, 64), strconv.FormatInt(r.MaxULP, 10), g3(r.Bound), r.Verdict}
		if r.Verdict == Fused {
			for i := 3; i < 9; i++ {
				cells[i] = "-"
			}
		}
		switch r.Verdict {
		case Fail:
			for i := range cells {
				cells[i] = paint(o.Color, red, cells[i])
			}
		case Pass:
			cells[9] = paint(o.Color, green, cells[9])
		default:
			cells[9] = paint(o.Color, dim, cells[9])
		}
		if err := tw.Append(cells); err != nil {
			return err
		}
	}
	if err := tw.Render(); err != nil {
		return err
	}
	if err := printSummary(w, s, o); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d pass, %d fail, %d fused (not compared), %d drift rows (info%s)\n",
		counts[Pass], counts[Fail], counts[Fused], counts[Info], map[bool]string{true: "", false: ", hidden: --all"}[o.All])
	if f := s.FirstFailure; f != nil {
		fmt.Fprintln(w, paint(o.Color, red, fmt.Sprintf("FIRST FAILURE: %s (layer %d, %s): %s", f.Checkpoint, f.Layer, f.Op, evidence(f))))
	} else {
		fmt.Fprintln(w, paint(o.Color, green, "every compared checkpoint passes"))
	}
	return nil
}

// NumericsLine is the header line naming each path's declared numerics:
// "numerics: reference ggml-cpu, dsl ggml-cpu, llamacpp llama.cpp's own".
func NumericsLine(paths []string, numerics map[string]string) string {
	var parts []string
	for _, p := range paths {
		n, ok := numerics[p]
		switch {
		case !ok:
			n = "?"
		case n == model.NumericsLlamaCpp:
			n = "llama.cpp's own"
		}
		parts = append(parts, p+" "+n)
	}
	return "numerics: " + strings.Join(parts, ", ")
}

// PrintTokens writes a generation-parity report.
func PrintTokens(w io.Writer, t *Tokens, o PrintOptions) error {
	fmt.Fprintf(w, "token parity: prompt %v\n", t.Prompt)
	fmt.Fprintln(w, t.Setup.Header())
	names := []string{t.Pairs[0].A}
	for _, p := range t.Pairs {
		names = append(names, p.B)
	}
	fmt.Fprintln(w, NumericsLine(names, t.Numerics))
	width := 10
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %v\n", width, n, t.Streams[n])
	}
	tw := tablewriter.NewTable(w)
	tw.Header("a", "b", "first_div", "class", "kld_mean", "kld_p99", "kld_max", "top1", "rms_dp", "verdict")
	for _, p := range t.Pairs {
		cells := []string{p.A, p.B, strconv.Itoa(p.FirstDivergence), p.Class, g3(p.KLMean), g3(p.KLP99), g3(p.KLMax),
			strconv.FormatFloat(float64(p.Top1Agreement), 'f', 4, 64), g3(p.RMSdp), p.Verdict}
		if p.Verdict == Fail {
			for i := range cells {
				cells[i] = paint(o.Color, red, cells[i])
			}
		} else {
			cells[9] = paint(o.Color, green, cells[9])
		}
		if err := tw.Append(cells); err != nil {
			return err
		}
	}
	if err := tw.Render(); err != nil {
		return err
	}
	for _, p := range t.Pairs {
		if p.Note != "" {
			fmt.Fprintf(w, "%s vs %s: %s\n", p.A, p.B, p.Note)
		}
	}
	for _, p := range t.Pairs {
		if p.FirstDivergence < 0 {
			continue
		}
		fmt.Fprintf(w, "%s vs %s diverge at generated token %d (%s, gap %s):\n", p.A, p.B, p.FirstDivergence, p.Class, g3(p.Gap))
		for _, n := range []string{p.A, p.B} {
			var parts []string
			for _, c := range p.Top5[n] {
				parts = append(parts, fmt.Sprintf("%d:%.4f", c.ID, c.Logit))
			}
			fmt.Fprintf(w, "  top-5 %-*s %s\n", width, n, strings.Join(parts, "  "))
		}
	}
	return nil
}

// summary is one comparison's line of the summary: how many checkpoints
// pass, fail or are fused, and the worst one relative to its bound.
type summary struct {
	a, b              string
	pass, fail, fused int
	worst             float64 // −1 when nothing was compared
	where             string
}

// summarize returns one summary per comparison (a vs b) of s, drift rows
// excluded, in the order the rows first name them.
func summarize(s *Steps) []*summary {
	type key struct{ a, b string }
	var order []*summary
	m := map[key]*summary{}
	for i := range s.Rows {
		r := &s.Rows[i]
		if r.Verdict == Info {
			continue
		}
		k := key{r.A, r.B}
		g, ok := m[k]
		if !ok {
			g = &summary{a: r.A, b: r.B, worst: -1}
			m[k] = g
			order = append(order, g)
		}
		switch r.Verdict {
		case Pass:
			g.pass++
		case Fail:
			g.fail++
		case Fused:
			g.fused++
			continue
		}
		if ratio := ErrorRatio(r); ratio > g.worst {
			g.worst, g.where = ratio, r.Checkpoint
		}
	}
	return order
}

// printSummary writes one line per comparison (a vs b): how many
// checkpoints pass, fail or are fused, and the worst one relative to its
// bound.
func printSummary(w io.Writer, s *Steps, o PrintOptions) error {
	tw := tablewriter.NewTable(w)
	tw.Header("a", "b", "pass", "fail", "fused", "worst error/bound", "at")
	for _, g := range summarize(s) {
		worst := "-"
		if g.worst >= 0 {
			worst = strconv.FormatFloat(g.worst, 'g', 3, 64)
		}
		cells := []string{g.a, g.b, strconv.Itoa(g.pass), strconv.Itoa(g.fail), strconv.Itoa(g.fused), worst, g.where}
		if g.fail > 0 {
			for i := range cells {
				cells[i] = paint(o.Color, red, cells[i])
			}
		}
		if err := tw.Append(cells); err != nil {
			return err
		}
	}
	return tw.Render()
}
