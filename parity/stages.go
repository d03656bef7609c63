package parity

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// Stage rows (--unfuse): a path that runs another path's fused kernels
// stage by stage (model.StagePath, the dsl path unfused) materializes
// each stage's output as a stage checkpoint "<checkpoint>.<stage>". Each
// is judged against its local float64 oracle like a checkpoint (the
// oracle evaluates the graph op the stage computes, from the stage's own
// inputs as the path materialized them), in rows listed just before the
// checkpoint whose kernel the stage belongs to. The unfused path's
// checkpoints are also compared directly with its fused twin's, and a
// fused kernel that fails while every one of its stages passes unfused is
// reported as a composition fault.

// CompositionNote begins the note of a fused kernel's failing row whose
// unfused stages all pass.
const CompositionNote = "stages pass, fused fails: the fault is in the composition of the fused kernel (argument binding, shared memory, synchronization), not in a stage"

// pathStages are one trace's stage checkpoints.
type pathStages struct {
	byOf map[string][]model.Stage // by the checkpoint they belong to
	cols map[string]int
	// twin is the index of the trace of the path that runs the same
	// kernels fused (named as this one without model.UnfusedSuffix); -1
	// when there is none. Set by linkTwins.
	twin int
}

// stagesOf returns the stage checkpoints each target declares.
func stagesOf(ts []Target) []pathStages {
	out := make([]pathStages, len(ts))
	for i, t := range ts {
		out[i] = pathStages{byOf: map[string][]model.Stage{}, cols: map[string]int{}, twin: -1}
		sp, ok := t.Path.(model.StagePath)
		if !ok {
			continue
		}
		for _, st := range sp.Stages() {
			out[i].byOf[st.Of] = append(out[i].byOf[st.Of], st)
			out[i].cols[st.Name] = st.Cols
		}
	}
	return out
}

// linkTwins finds each unfused trace's fused twin: the trace whose name
// is its name without model.UnfusedSuffix ("dsl-unfused" → "dsl",
// "dsl-unfused@cuda" → "dsl@cuda").
func (j *judge) linkTwins() {
	for i, tr := range j.s.Traces {
		if !strings.Contains(tr.Path, model.UnfusedSuffix) {
			continue
		}
		fused := strings.Replace(tr.Path, model.UnfusedSuffix, "", 1)
		for k, o := range j.s.Traces {
			if k != i && o.Path == fused {
				j.stages[i].twin = k
			}
		}
	}
}

// stageCols returns the width of a stage checkpoint (0 if none has it).
func (j *judge) stageCols(name string) int {
	for _, ps := range j.stages {
		if c, ok := ps.cols[name]; ok {
			return c
		}
	}
	return 0
}

// stageRows appends the local rows of the stage checkpoints that belong
// to checkpoint name, and marks them known.
func (j *judge) stageRows(name string, known map[string]bool) error {
	for i, tr := range j.s.Traces {
		for _, st := range j.stages[i].byOf[name] {
			known[st.Name] = true
			if j.global == nil {
				continue // nothing to compare a stage with
			}
			r := Row{Checkpoint: st.Name, Layer: st.Layer, A: tr.Path, B: LocalOracle, Op: string(st.Op), Stage: st.Stage, Of: st.Of}
			sr, ok := tr.Capture.Series[st.Name]
			switch {
			case !ok:
				r.Verdict, r.Note = Fail, "declared, never materialized"
			case j.shape(sr, st.Cols) != "":
				r.Verdict, r.Note = Fail, j.shape(sr, st.Cols)
			case st.Op == "":
				r.Verdict, r.Note = Info, "the stage has no op of the checkpoint graph: not judged"
			default:
				if err := j.judgeStage(i, tr, st, sr, &r); err != nil {
					return err
				}
			}
			j.s.Rows = append(j.s.Rows, r)
		}
	}
	return nil
}

// judgeStage fills the metrics and verdict of stage st against the
// trace's local oracle.
func (j *judge) judgeStage(i int, tr *Trace, st model.Stage, sr *Series, r *Row) error {
	dt := tr.DType
	if st.F32 {
		dt = F32 // an intermediate the fused kernel keeps in float32
	}
	res, err := j.local[i].Stage(st)
	if err != nil {
		return err
	}
	got := sr.Data
	th := localBound(dt, tr.KV, res.Ops)
	rs, err := resolveTies(got, res, 0, j.n, dt, th)
	if err != nil {
		return err
	}
	r.Metrics = compare(got, rs.want, dt)
	r.Bound, r.Verdict = Num(th), Pass
	if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
		r.Verdict = Fail
	}
	r.Note = "from " + strings.Join(res.Inputs, ",")
	if len(res.Ops) > 1 {
		r.Note += " via " + strings.Join(res.Ops, "+")
	}
	if n := rs.note(compare(got, res.Data, dt).NMSE); n != "" {
		r.Note += "; " + n
	}
	if j.other[i] != nil && st.Op == model.OpMulMat {
		alt, err := j.other[i].Stage(st)
		if err != nil {
			return err
		}
		na := compare(got, alt.Data, dt).NMSE
		if float64(r.NMSE) > th/1000 && float64(na)*RoundingMargin < float64(r.NMSE) {
			r.Verdict = Fail
			r.Note = fmt.Sprintf("mul_mat inputs fit %s rounding (nmse %.3g) better than the %s rounding its declared numerics %s implies (nmse %.3g); %s",
				otherRounding(tr.Rounding), float64(na), tr.Rounding, tr.Numerics, float64(r.NMSE), r.Note)
		}
	}
	return nil
}

// twinRows appends, after the rows of checkpoint name, the direct
// comparison of each unfused path with its fused twin (the same stages,
// dispatched separately): pass when the NMSE is within 4× the op's
// threshold, as paths compared without an oracle are.
func (j *judge) twinRows(name string) {
	node, layer, err := j.graph.Check(name)
	if err != nil {
		return
	}
	for i, tr := range j.s.Traces {
		k := j.stages[i].twin
		if k < 0 {
			continue
		}
		a, okA := tr.Capture.Series[name]
		b, okB := j.s.Traces[k].Capture.Series[name]
		cols := node.Width.Of(j.cfg)
		if !okA || !okB || j.shape(a, cols) != "" || j.shape(b, cols) != "" {
			continue
		}
		r := Row{Checkpoint: name, Layer: layer, A: tr.Path, B: j.s.Traces[k].Path, Op: string(node.Op)}
		r.Metrics = compare(a.Data, b.Data, tr.DType)
		th := 4 * localBound(tr.DType, tr.KV, []string{string(node.Op)})
		r.Bound, r.Verdict = Num(th), Pass
		if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
			r.Verdict = Fail
		}
		r.Note = "unfused vs fused: the same stages, one dispatch each"
		j.s.Rows = append(j.s.Rows, r)
	}
}

// composition marks each failing local row of a fused path whose unfused
// twin materialized the kernel's stages: a composition fault when every
// stage and the twin's own row pass, else it names the failing stage.
func (j *judge) composition() {
	for u, ps := range j.stages {
		if ps.twin < 0 {
			continue
		}
		fused, unfused := j.s.Traces[ps.twin].Path, j.s.Traces[u].Path
		for i := range j.s.Rows {
			r := &j.s.Rows[i]
			if r.A != fused || r.B != LocalOracle || !r.Failed() || len(ps.byOf[r.Checkpoint]) == 0 {
				continue
			}
			var bad []string
			own := false
			for _, o := range j.s.Rows {
				switch {
				case o.A != unfused || o.B != LocalOracle:
				case o.Of == r.Checkpoint && o.Failed():
					bad = append(bad, o.Checkpoint)
				case o.Checkpoint == r.Checkpoint && o.Stage == "":
					own = !o.Failed()
				}
			}
			switch {
			case len(bad) > 0:
				r.Note = fmt.Sprintf("%s's stage %s fails too: the fault is in that stage; %s", unfused, strings.Join(bad, ", "), r.Note)
			case own:
				r.Composition = true
				r.Note = CompositionNote + " (" + unfused + " passes every stage); " + r.Note
			}
		}
	}
}

// openUnfused opens path r unfused after the session's last target (r's
// fused run, shown as display), with the last target's storage; its name
// is display with model.UnfusedSuffix after the path ("dsl-unfused",
// "dsl-unfused@cuda").
func (s *Session) openUnfused(r model.PathRef, display string, opts model.PathOptions) error {
	opts = r.Options(opts)
	opts.Unfuse = true
	p, err := model.OpenPath(r.Path, s.Model, opts)
	if err != nil {
		return fmt.Errorf("parity: %s unfused: %w", display, err)
	}
	t := s.Targets[len(s.Targets)-1]
	t.Path = p
	t.Name = strings.Replace(display, r.Path, r.Path+model.UnfusedSuffix, 1)
	s.Targets = append(s.Targets, t)
	return nil
}
