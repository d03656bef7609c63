package golden

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// Page returns the verify report rep of golden g (read from file) as a
// self-contained HTML page (parity.Page): the verdict (the first row that
// moved), the rows per path, the token streams, and the golden's
// provenance (model, paths, settings, the numerics profile recorded and
// the one verified under, policy, the recording tool and time). extra are more provenance lines (the verifying run's).
func Page(g *Golden, file string, rep *Report, extra [][2]string) *parity.Page {
	p := &parity.Page{Title: "metallic golden verify: " + file, Pass: rep.Pass}
	if f := rep.FirstFailure; f != nil {
		p.Verdict = fmt.Sprintf("regression: %s checkpoint %s (layer %d) moved first: %s", f.Path, f.Checkpoint, f.Layer, f.Verdict)
		if f.Note != "" {
			p.Verdict += ": " + f.Note
		}
	} else {
		p.Verdict = fmt.Sprintf("all %d rows pass (policy %s)", len(rep.Rows), rep.Policy)
	}
	byPath := map[string]*parity.Table{}
	var order []string
	for _, r := range rep.Rows {
		t, ok := byPath[r.Path]
		if !ok {
			t = &parity.Table{ID: "rows-" + r.Path, Caption: "Checkpoints of " + r.Path,
				Header: []string{"checkpoint", "layer", "max_abs", "rmse", "nmse", "cos", "max_ulp", "nmse_limit", "verdict", "note"}}
			byPath[r.Path] = t
			order = append(order, r.Path)
		}
		cells := []string{r.Checkpoint, strconv.Itoa(r.Layer), g3(r.MaxAbs), g3(r.RMSE), g3(r.NMSE),
			strconv.FormatFloat(float64(r.Cos), 'f', 9, 64), strconv.FormatInt(r.MaxULP, 10), g3(r.Limit), r.Verdict, r.Note}
		if r.Checkpoint == "tokens" || r.Verdict == Missing || r.Verdict == Shape {
			for i := 2; i < 8; i++ {
				cells[i] = "-"
			}
		}
		t.Rows = append(t.Rows, cells)
		t.Fail = append(t.Fail, r.Failed())
	}
	var tables []parity.Table
	for _, path := range order {
		tables = append(tables, *byPath[path])
	}
	p.Sections = append(p.Sections, parity.Section{ID: "rows", Title: "Checkpoints against the golden", Tables: tables,
		Text: []string{"Each checkpoint of each recorded path, rerun teacher-forced on the recorded tokens, against the recorded values (NMSE within the policy's limit)."}})
	if png, err := parity.RenderHeats(heats(rep, order)); err == nil {
		p.Sections = append(p.Sections, parity.Section{ID: "heatmap", Title: "Error heatmap", PNG: png,
			Alt:  "log10(nmse/limit) per checkpoint and layer, one panel per path",
			Text: []string{"Colour is log10(NMSE / limit) against the golden: white at the limit, blue below, red above, grey where not compared; a cross marks a failure."}})
	}
	st := parity.Table{ID: "streams", Caption: "Generated tokens", Header: []string{"path", "first divergence", "recorded", "now"}}
	var paths []string
	for path := range rep.Streams {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		s := rep.Streams[path]
		st.Rows = append(st.Rows, []string{path, strconv.Itoa(s.FirstDivergence), fmt.Sprint(s.Recorded), fmt.Sprint(s.Got)})
		st.Fail = append(st.Fail, s.FirstDivergence >= 0)
	}
	p.Sections = append(p.Sections, parity.Section{ID: "tokens", Title: "Token streams", Tables: []parity.Table{st}})
	m := g.Meta
	prov := [][2]string{
		{"golden", file}, {"model (recorded)", fmt.Sprintf("%s (%s), sha256 %s", m.ModelFile, m.ModelName, m.ModelSHA256)},
		{"architecture", m.Arch}, {"paths", fmt.Sprint(m.Paths)}, {"backend", m.Backend}, {"numerics (recorded)", m.Numerics},
		{"numerics (verified)", rep.Numerics}, {"activations", m.ActDType},
		{"storage", m.Storage}, {"prompt tokens", fmt.Sprint(m.PromptTokens)}, {"prompt text", m.PromptText},
		{"generated", strconv.Itoa(m.NGenerated)}, {"sampler", fmt.Sprintf("%+v", m.Sampler)}, {"policy", m.Policy.Name},
		{"recorded by", m.ToolVersion}, {"recorded at", m.Created.UTC().Format(time.RFC3339)},
	}
	for _, path := range sortedKeys(rep.Backends) {
		prov = append(prov, [2]string{"backend of " + path, rep.Backends[path].Provenance})
	}
	p.Sections = append(p.Sections, parity.Section{ID: "provenance", Title: "Provenance", Pairs: append(prov, extra...)})
	return p
}

func g3(n parity.Num) string { return strconv.FormatFloat(float64(n), 'g', 3, 64) }

// heats are the per-layer rows of rep as heat panels, one per path:
// NMSE over the policy's limit.
func heats(rep *Report, paths []string) []*parity.Heat {
	var out []*parity.Heat
	for _, path := range paths {
		h := &parity.Heat{A: path + " vs golden"}
		idx := map[string]int{}
		for _, r := range rep.Rows {
			if r.Path != path || r.Layer < 0 {
				continue
			}
			kind, _, err := model.ParseCheckpoint(r.Checkpoint)
			if err != nil {
				continue
			}
			if _, ok := idx[kind]; !ok {
				idx[kind] = len(h.Kinds)
				h.Kinds = append(h.Kinds, kind)
				h.Ratio = append(h.Ratio, nil)
				h.Failed = append(h.Failed, nil)
			}
			h.Layers = max(h.Layers, r.Layer+1)
		}
		for i := range h.Kinds {
			h.Ratio[i] = make([]float64, h.Layers)
			h.Failed[i] = make([]bool, h.Layers)
			for l := range h.Ratio[i] {
				h.Ratio[i][l] = math.NaN()
			}
		}
		for _, r := range rep.Rows {
			kind, l, err := model.ParseCheckpoint(r.Checkpoint)
			if r.Path != path || err != nil || l < 0 {
				continue
			}
			i := idx[kind]
			if r.Limit > 0 && r.Verdict != Missing && r.Verdict != Shape {
				h.Ratio[i][l] = float64(r.NMSE) / float64(r.Limit)
			}
			h.Failed[i][l] = r.Failed()
		}
		if len(h.Kinds) > 0 {
			out = append(out, h)
		}
	}
	return out
}
