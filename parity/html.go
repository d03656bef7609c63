package parity

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"strconv"
	"strings"
)

// Page is a self-contained HTML report: one file with inline CSS and its
// images as data: URIs, referencing nothing outside itself (no network),
// what a nightly job attaches as its artifact. The verdict comes first,
// then the sections in order.
type Page struct {
	Title string
	// Pass selects the banner (PASS or FAIL); Verdict is the line under it.
	Pass     bool
	Verdict  string
	Sections []Section
}

// Section is a heading followed by paragraphs, tables and an image.
type Section struct {
	ID    string // anchor; also the section's id attribute
	Title string
	Text  []string
	// Tables are rendered in order, each with a caption.
	Tables []Table
	// PNG, when set, is embedded as a data: URI with Alt as its text.
	PNG []byte
	Alt string
	// Pairs, when set, are key/value lines (provenance) as a table.
	Pairs [][2]string
}

// Table is a captioned table; rows whose Fail is true are highlighted.
type Table struct {
	ID      string
	Caption string
	Header  []string
	Rows    [][]string
	Fail    []bool
}

// WriteHTML renders p to w.
func (p *Page) WriteHTML(w io.Writer) error {
	return pageTemplate.Execute(w, p)
}

// WriteHTMLFile writes p to file.
func (p *Page) WriteHTMLFile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("parity: --html: %w", err)
	}
	if err := p.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("parity: --html %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("parity: --html %s: %w", file, err)
	}
	return nil
}

// pngURI is the data: URI of a PNG image (typed as a safe URL for
// html/template, which would otherwise reject the data: scheme).
func pngURI(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"png": pngURI,
	"failed": func(t Table, i int) bool {
		return i < len(t.Fail) && t.Fail[i]
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
.verdict { font-size: 1.3em; padding: .6em 1em; border-radius: 6px; margin: 1em 0; }
.verdict b { font-size: 1.3em; margin-right: .6em; }
.pass { background: #e6f4ea; border: 1px solid #34a853; }
.fail { background: #fce8e6; border: 1px solid #d93025; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
caption { text-align: left; font-weight: bold; padding: .3em 0; font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
tr.fail td { background: #fce8e6; color: #a50e0e; font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; }
nav a { margin-right: 1em; }
.pairs td { text-align: left; white-space: normal; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div id="verdict" class="verdict {{if .Pass}}pass{{else}}fail{{end}}"><b>{{if .Pass}}PASS{{else}}FAIL{{end}}</b>{{.Verdict}}</div>
<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a>{{end}}</nav>
{{range .Sections}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{range .Text}}<p>{{.}}</p>
{{end}}{{range $t := .Tables}}<table{{if $t.ID}} id="{{$t.ID}}"{{end}}>
<caption>{{$t.Caption}}</caption>
<thead><tr>{{range $t.Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $i, $r := $t.Rows}}<tr{{if failed $t $i}} class="fail"{{end}}>{{range $r}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{if .PNG}}<img src="{{png .PNG}}" alt="{{.Alt}}">
{{end}}{{if .Pairs}}<table class="pairs"><tbody>
{{range .Pairs}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</tbody></table>
{{end}}</section>
{{end}}
</body>
</html>
`))

// ReportPageOptions are the parts of a parity report page.
type ReportPageOptions struct {
	Title  string
	Steps  *Steps  // required
	Tokens *Tokens // nil when fewer than two paths ran
	// Provenance are key/value lines (model, tools, time, …), shown last.
	Provenance [][2]string
}

// ReportPage builds the page of a parity report: the verdict (the first
// failing checkpoint or token stream), the summary and step tables, the
// error heatmap (RenderPlot), token parity, and provenance with how the
// paths and llama.cpp ran (each path's numerics, the KV cache, the
// attention kernel).
func ReportPage(o ReportPageOptions) (*Page, error) {
	s, t := o.Steps, o.Tokens
	if s == nil {
		return nil, fmt.Errorf("parity: a report page needs steps")
	}
	p := &Page{Title: o.Title, Pass: !s.Failed() && (t == nil || !t.Failed())}
	if p.Title == "" {
		p.Title = "metallic parity report"
	}
	switch {
	case s.FirstFailure != nil:
		f := s.FirstFailure
		p.Verdict = fmt.Sprintf("first failing checkpoint %s (layer %d, %s): %s vs %s, %s", f.Checkpoint, f.Layer, f.Op, f.A, f.B, evidence(f))
	case t != nil && t.Failed():
		p.Verdict = fmt.Sprintf("token streams %s vs %s: %s at generated token %d", t.A, t.B, t.Class, t.FirstDivergence)
	default:
		p.Verdict = "every compared checkpoint passes"
		if t != nil {
			p.Verdict += " and the token streams agree"
		}
	}
	head := append([]string{fmt.Sprintf("%s model, paths %v, %d positions (prompt %d).", s.Arch, s.Paths, len(s.Tokens), s.PromptLen)}, s.Setup.Lines()...)
	head = append(head, NumericsLine(s.Paths, s.Numerics))
	p.Sections = append(p.Sections, Section{ID: "steps", Title: "Step parity", Text: head, Tables: StepsTables(s)})
	if png, err := RenderPlot(s); err == nil {
		p.Sections = append(p.Sections, Section{ID: "heatmap", Title: "Error heatmap", PNG: png,
			Alt:  "log10(error/bound) per checkpoint and layer, one panel per comparison",
			Text: []string{"Colour is log10(error / bound) of each checkpoint and layer: white at the verdict's bound, blue below, red above, grey where not compared; a cross marks a failure."}})
	}
	if t != nil {
		p.Sections = append(p.Sections, Section{ID: "tokens", Title: "Token parity", Text: t.Setup.Lines(), Tables: TokensTables(t)})
	}
	fa := "off"
	if s.FlashAttn {
		fa = "on"
	}
	prov := append([][2]string{{"paths", fmt.Sprint(s.Paths)}, {"numerics", strings.TrimPrefix(NumericsLine(s.Paths, s.Numerics), "numerics: ")}, {"attention", fmt.Sprintf("KV cache %s, flash attention %s", s.KV, fa)}}, o.Provenance...)
	if s.LlamaCpp != nil {
		prov = append(prov, [2]string{"llama.cpp", s.LlamaCpp.String()})
	}
	for _, n := range s.Paths {
		if b, ok := s.Backends[n]; ok {
			prov = append(prov, [2]string{"backend of " + n, b.Provenance})
		}
	}
	p.Sections = append(p.Sections, Section{ID: "provenance", Title: "Provenance", Pairs: prov})
	return p, nil
}

// StepsTables are a step report as tables: the per-comparison summary,
// then every row but the drift rows (path vs global oracle).
func StepsTables(s *Steps) []Table {
	sum := Table{ID: "summary", Caption: "Summary per comparison", Header: []string{"a", "b", "pass", "fail", "fused", "worst error/bound", "at"}}
	for _, g := range summarize(s) {
		worst := "-"
		if g.worst >= 0 {
			worst = strconv.FormatFloat(g.worst, 'g', 3, 64)
		}
		sum.Rows = append(sum.Rows, []string{g.a, g.b, strconv.Itoa(g.pass), strconv.Itoa(g.fail), strconv.Itoa(g.fused), worst, g.where})
		sum.Fail = append(sum.Fail, g.fail > 0)
	}
	rows := Table{ID: "rows", Caption: "Checkpoints", Header: []string{"checkpoint", "a", "b", "max_abs", "mean_abs", "nmse", "cos", "max_ulp", "bound", "verdict", "note"}}
	for _, r := range s.Rows {
		if r.Verdict == Info {
			continue
		}
		cells := []string{r.Checkpoint, r.A, r.B, g3(r.MaxAbs), g3(r.MeanAbs), g3(r.NMSE),
			strconv.FormatFloat(float64(r.Cos), 'f', 9, 64), strconv.FormatInt(r.MaxULP, 10), g3(r.Bound), r.Verdict, r.Note}
		if r.Verdict == Fused {
			for i := 3; i < 9; i++ {
				cells[i] = "-"
			}
		}
		rows.Rows = append(rows.Rows, cells)
		rows.Fail = append(rows.Fail, r.Failed())
	}
	return []Table{sum, rows}
}

// TokensTables are a token-parity report as tables: the streams, then
// the pairs.
func TokensTables(t *Tokens) []Table {
	st := Table{ID: "streams", Caption: fmt.Sprintf("Generated tokens (prompt %v)", t.Prompt), Header: []string{"path", "tokens"}}
	names := []string{t.Pairs[0].A}
	for _, p := range t.Pairs {
		names = append(names, p.B)
	}
	for _, n := range names {
		st.Rows = append(st.Rows, []string{n, fmt.Sprint(t.Streams[n])})
	}
	pt := Table{ID: "pairs", Caption: "Stream comparisons", Header: []string{"a", "b", "first_div", "class", "kld_mean", "kld_p99", "kld_max", "top1", "rms_dp", "verdict"}}
	for _, p := range t.Pairs {
		pt.Rows = append(pt.Rows, []string{p.A, p.B, strconv.Itoa(p.FirstDivergence), p.Class, g3(p.KLMean), g3(p.KLP99), g3(p.KLMax),
			strconv.FormatFloat(float64(p.Top1Agreement), 'f', 4, 64), g3(p.RMSdp), p.Verdict})
		pt.Fail = append(pt.Fail, p.Verdict == Fail)
	}
	return []Table{st, pt}
}
