package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// Oracle names used as the "b" side of rows.
const (
	LocalOracle  = "local"  // teacher-forced float64 recomputation
	GlobalOracle = "global" // full float64 forward from the tokens
)

// Row is one comparison of one checkpoint: candidate A against B (an oracle
// or another path).
type Row struct {
	Checkpoint string `json:"checkpoint"` // full name, e.g. "blk.3.ffn_act"
	Layer      int    `json:"layer"`      // -1 outside blocks
	A          string `json:"a"`
	B          string `json:"b"`
	Op         string `json:"op"`
	Metrics
	// Bound is what the verdict compared against: the NMSE threshold for a
	// local row, the RMSE bound m·err(ref)+floor for a fused-vs-reference
	// row, 4× the NMSE threshold for a path-vs-path row without oracle.
	Bound Num `json:"bound"`
	// ErrA and ErrB are, in a fused-vs-reference row, the RMSE of A and of
	// B against the global oracle: the rule is ErrA ≤ Bound.
	ErrA Num `json:"err_a,omitempty"`
	ErrB Num `json:"err_b,omitempty"`
	// MaxAbsPos and MaxAbsCol locate max_abs: position and column.
	MaxAbsPos int    `json:"max_abs_pos"`
	MaxAbsCol int    `json:"max_abs_col"`
	Verdict   string `json:"verdict"`
	Note      string `json:"note,omitempty"`
	// Stage and Of are set on the row of a stage checkpoint (--unfuse):
	// the stage's name and the checkpoint whose kernel it belongs to.
	Stage string `json:"stage,omitempty"`
	Of    string `json:"of,omitempty"`
	// Composition marks a fused kernel's failing row whose unfused stages
	// all pass: the fault is in how the stages are composed.
	Composition bool `json:"composition,omitempty"`
}

// Failed reports whether the row is a failure.
func (r *Row) Failed() bool { return r.Verdict == Fail }

// StepsOptions configure RunSteps.
type StepsOptions struct {
	// Targets are the paths; the first is the reference side of pair rows
	// and drives the greedy decode steps.
	Targets []Target
	// Weights feed the oracles; required unless NoOracle.
	Weights *model.Weights
	Prompt  []int32
	Decode  int // greedy decode steps after the prompt
	Perturb []Perturbation
	// NoOracle compares the paths with one another only (no float64).
	NoOracle bool
	// Progress, when set, is told about each stage.
	Progress func(stage string)
	// File, when set, is the model file the paths and Weights read. A
	// path that maps it itself (llamacpp) makes a second copy of the model
	// resident beside the gguf mapping; RunSteps then lets the kernel drop
	// both mappings' resident pages before each path runs and before the
	// oracles, so each phase holds one copy (releaseFile).
	File string
	// DropCaptures releases what the report does not need as soon as it
	// is judged, so that a run's memory stays that of a few checkpoints:
	// each captured series' Data (set to nil once the last row that reads
	// it is made) and each trace's Logits (nil after the runs). Callers
	// that read Steps.Traces' data afterwards leave it false.
	DropCaptures bool
}

// Steps is a step-parity report.
type Steps struct {
	Arch  string   `json:"arch"`
	Paths []string `json:"paths"`
	Setup
	Tokens    []int32  `json:"tokens"`
	PromptLen int      `json:"prompt_len"`
	Perturb   []string `json:"perturb"`
	// Numerics is, per path, the arithmetic it declares: "plain",
	// "ggml-cpu" or "llamacpp".
	Numerics map[string]string `json:"numerics"`
	// Rounding is, per path, the mul_mat input rounding its declared
	// numerics implies and its local oracle applies (RoundingExact or
	// RoundingVecDot); empty without an oracle.
	Rounding     map[string]string `json:"rounding"`
	Rows         []Row             `json:"rows"`
	FirstFailure *Row              `json:"first_failure"`
	Traces       []*Trace          `json:"-"`
}

// Failed reports whether any row failed.
func (s *Steps) Failed() bool { return s.FirstFailure != nil }

// RunSteps runs every target over the same tokens (the prompt, then Decode
// greedy steps chosen by the first target), captures every checkpoint and
// judges it against the oracles and the first target.
func RunSteps(o StepsOptions) (*Steps, error) {
	if len(o.Targets) == 0 {
		return nil, fmt.Errorf("parity: no paths to compare")
	}
	if !o.NoOracle && o.Weights == nil {
		return nil, fmt.Errorf("parity: the oracles need the model's weights")
	}
	if o.NoOracle && len(o.Targets) < 2 {
		return nil, fmt.Errorf("parity: without an oracle, give at least two paths")
	}
	if err := CheckPerturbations(o.Targets, o.Perturb); err != nil {
		return nil, err
	}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	cfg := o.Targets[0].Path.Config()
	s := &Steps{Arch: cfg.Arch, Setup: SetupOf(o.Targets), PromptLen: len(o.Prompt), Perturb: []string{}, Rows: []Row{},
		Numerics: map[string]string{}, Rounding: map[string]string{}}
	for _, p := range o.Perturb {
		s.Perturb = append(s.Perturb, perturbLabel(o.Targets, p))
	}
	for i, t := range o.Targets {
		progress("run " + t.name())
		if _, err := releaseFile(o.File, 2); err != nil {
			return nil, err
		}
		ro := RunOptions{Tokens: o.Prompt, Decode: o.Decode, Hook: PerturbHook(t, o.Perturb)}
		if i > 0 {
			ro = RunOptions{Tokens: s.Tokens, Prompt: len(o.Prompt), Hook: ro.Hook}
		}
		tr, err := Run(t, ro)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.Tokens = tr.Tokens
		}
		if o.DropCaptures {
			tr.Logits = nil // the greedy steps are taken; the capture keeps the logits
		}
		s.Paths = append(s.Paths, tr.Path)
		s.Numerics[tr.Path] = tr.Numerics
		s.Traces = append(s.Traces, tr)
	}
	j := &judge{cfg: cfg, graph: model.NewGraph(cfg), s: s, n: len(s.Tokens), stages: stagesOf(o.Targets)}
	j.linkTwins()
	if !o.NoOracle {
		progress("float64 oracles")
		if _, err := releaseFile(o.File, 2); err != nil {
			return nil, err
		}
		cache := oracle.NewCache()
		var err error
		if j.global, err = oracle.New(oracle.Options{Config: cfg, Weights: o.Weights, Tokens: s.Tokens, Cache: cache}); err != nil {
			return nil, err
		}
		for _, tr := range s.Traces {
			wd := newWidened(tr.Capture)
			ev, other, err := localOracles(cfg, o.Weights, s.Tokens, cache, tr, wd)
			if err != nil {
				return nil, err
			}
			j.local, j.other, j.wide = append(j.local, ev), append(j.other, other), append(j.wide, wd)
			s.Rounding[tr.Path] = tr.Rounding
		}
		// Paths whose declared numerics round mul_mat inputs differently
		// legitimately differ by the rounding's own effect: the global
		// oracle with the vec_dot rounding measures it for pair rows.
		for _, tr := range s.Traces[1:] {
			if tr.Rounding != s.Traces[0].Rounding && nonF32MatMul(o.Weights) && j.globalVec == nil {
				if j.globalVec, err = oracle.New(oracle.Options{Config: cfg, Weights: o.Weights, Tokens: s.Tokens, Cache: cache, RoundActivations: true}); err != nil {
					return nil, err
				}
			}
		}
	}
	known := map[string]bool{}
	names := j.graph.Names()
	dead := j.liveness(names)
	for i, name := range names {
		known[name] = true
		if err := j.stageRows(name, known); err != nil {
			return nil, err
		}
		j.dying = map[string]bool{}
		for _, n := range dead[i] {
			j.dying[n] = true
		}
		before := len(s.Rows)
		if err := j.checkpoint(name); err != nil {
			return nil, err
		}
		if len(s.Rows) > before {
			j.twinRows(name)
		}
		j.forget(dead[i])
		if o.DropCaptures {
			for _, tr := range s.Traces {
				for _, n := range dead[i] {
					if sr, ok := tr.Capture.Series[n]; ok {
						sr.Data = nil
					}
				}
			}
		}
	}
	for _, tr := range s.Traces {
		for _, name := range tr.Capture.Order {
			if !known[name] {
				s.Rows = append(s.Rows, Row{Checkpoint: name, Layer: -1, A: tr.Path, B: "-", Op: "unknown", Verdict: Fail,
					Note: fmt.Sprintf("not a checkpoint of this %s model", cfg.Arch)})
			}
		}
	}
	for i := range s.Rows {
		r := &s.Rows[i]
		r.MaxAbsPos, r.MaxAbsCol = -1, -1
		if node, _, err := j.graph.Check(r.Checkpoint); err == nil && r.MaxAbsIndex >= 0 && r.N > 0 {
			cols := node.Width.Of(cfg)
			r.MaxAbsPos, r.MaxAbsCol = r.MaxAbsIndex/cols, r.MaxAbsIndex%cols
		} else if cols := j.stageCols(r.Checkpoint); cols > 0 && r.MaxAbsIndex >= 0 && r.N > 0 {
			r.MaxAbsPos, r.MaxAbsCol = r.MaxAbsIndex/cols, r.MaxAbsIndex%cols
		}
	}
	j.composition()
	for i := range s.Rows {
		if s.Rows[i].Failed() {
			r := s.Rows[i]
			s.FirstFailure = &r
			break
		}
	}
	return s, nil
}

// judge builds the rows of one checkpoint.
type judge struct {
	cfg    *model.Config
	graph  *model.Graph
	s      *Steps
	n      int
	global *oracle.Evaluator
	// globalVec is the global oracle with the vec_dot rounding, made only
	// when two paths' declared roundings differ on non-F32 weights.
	globalVec *oracle.Evaluator
	local     []*oracle.Evaluator
	// other are the local oracles with the rounding the path's numerics
	// does not imply (nil where every weight is F32).
	other []*oracle.Evaluator
	// wide are, per trace, the float64 copies of its captures the local
	// oracles read.
	wide []*widened
	// dying are the checkpoints that no row after the current
	// checkpoint's reads (liveness).
	dying map[string]bool
	// stages are, per trace, the stage checkpoints its path declares
	// (model.StagePath), with the index of its fused twin (-1 if none).
	stages []pathStages
}

// liveness returns, for each index of names (the checkpoints in the
// order they are judged), the checkpoints and stage checkpoints that
// nothing judged after it reads, so that once its rows are made the
// oracles may drop them. A checkpoint read at index i is live until i;
// when some path did not materialize it, its local oracle recomputes it
// there from its own inputs, so they are live until i too (and so on up
// the graph).
func (j *judge) liveness(names []string) [][]string {
	last := map[string]int{}
	var read func(name string, i int)
	read = func(name string, i int) {
		last[name] = i
		if j.materialized(name) {
			return
		}
		ins, err := j.graph.Inputs(name)
		if err != nil {
			return
		}
		for _, in := range ins {
			read(in, i)
		}
	}
	for i, name := range names {
		last[name] = i
		if ins, err := j.graph.Inputs(name); err == nil {
			for _, in := range ins {
				read(in, i)
			}
		}
		for _, ps := range j.stages {
			for _, st := range ps.byOf[name] {
				last[st.Name] = i
				for _, in := range st.Inputs {
					read(in, i)
				}
			}
		}
	}
	dead := make([][]string, len(names))
	for n, i := range last {
		dead[i] = append(dead[i], n)
	}
	for _, d := range dead {
		slices.Sort(d)
	}
	return dead
}

// materialized reports whether every path captured checkpoint name.
func (j *judge) materialized(name string) bool {
	for _, tr := range j.s.Traces {
		if _, ok := tr.Capture.Series[name]; !ok {
			return false
		}
	}
	return true
}

// forget drops every oracle's result and every float64 copy of a capture
// of the named checkpoints, which no later row reads, so that the
// oracles' memory stays that of a few checkpoints, not of a model's.
func (j *judge) forget(names []string) {
	for _, name := range names {
		for _, ev := range append([]*oracle.Evaluator{j.global, j.globalVec}, append(j.local, j.other...)...) {
			if ev != nil {
				ev.Forget(name)
			}
		}
		for _, wd := range j.wide {
			wd.forget(name)
		}
	}
}

// threshold is the NMSE bound of a checkpoint computed by ops (localBound).
func (j *judge) threshold(tr *Trace, ops []string) float64 { return localBound(tr.DType, tr.KV, ops) }

// localBound is the NMSE bound of a checkpoint computed by ops against its
// local oracle, for a path storing activations in dt and its KV cache in
// kv: the loosest op's (chainThreshold); attention is judged at the
// coarser of the two storages.
func localBound(dt, kv DType, ops []string) float64 {
	th := chainThreshold(ops, dt)
	if kv != "" && kv != dt && slices.Contains(ops, string(model.OpAttention)) {
		th = max(th, chainThreshold([]string{string(model.OpAttention)}, kv))
	}
	return th
}

func (j *judge) checkpoint(name string) error {
	node, layer, err := j.graph.Check(name)
	if err != nil {
		return err
	}
	op := string(node.Op)
	row := func(a, b string) Row { return Row{Checkpoint: name, Layer: layer, A: a, B: b, Op: op} }
	cols := node.Width.Of(j.cfg)
	have := make([]*Series, len(j.s.Traces))
	some := false
	for i, tr := range j.s.Traces {
		if sr, ok := tr.Capture.Series[name]; ok {
			have[i], some = sr, true
		}
	}
	if !some {
		return nil
	}
	var glob []float64
	if j.global != nil {
		g, err := j.global.Value(name)
		if err != nil {
			return err
		}
		glob = g.Data
	}
	// Local rows, then drift rows, per path. localRMSE keeps each path's
	// own (teacher-forced) error for the pair rows below (-1: none), and
	// localOps how many graph ops that error spans (a fused path's local
	// oracle may run several: output_norm+mul_mat for the logits).
	localRMSE := make([]float64, len(j.s.Traces))
	localOps := make([]int, len(j.s.Traces))
	for i := range localRMSE {
		localRMSE[i] = -1
	}
	for i, tr := range j.s.Traces {
		sr := have[i]
		if sr == nil || j.global == nil {
			continue
		}
		r := row(tr.Path, LocalOracle)
		if bad := j.shape(sr, cols); bad != "" {
			r.Verdict, r.Note = Fail, bad
			j.s.Rows = append(j.s.Rows, r)
			continue
		}
		res, err := j.local[i].Compute(name)
		if err != nil {
			return err
		}
		got := sr.Data
		th := j.threshold(tr, res.Ops)
		rs, err := resolveTies(got, res, 0, j.n, tr.DType, th)
		if err != nil {
			return err
		}
		r.Metrics = compare(got, rs.want, tr.DType)
		localRMSE[i], localOps[i] = float64(r.RMSE), len(res.Ops)
		r.Bound = Num(th)
		r.Verdict = Pass
		if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
			r.Verdict = Fail
		}
		r.Note = "from " + strings.Join(res.Inputs, ",")
		if len(res.Ops) > 1 {
			r.Note += " via " + strings.Join(res.Ops, "+")
		}
		if n := rs.note(compare(got, res.Data, tr.DType).NMSE); n != "" {
			r.Note += "; " + n
		}
		why, err := misrounded(tr, j.other[i], name, res.Ops, got, r.NMSE, th)
		if err != nil {
			return err
		}
		if why != "" {
			r.Verdict, r.Note = Fail, why+"; "+r.Note
		}
		j.s.Rows = append(j.s.Rows, r)
		if j.dying[name] {
			// Read by nothing after this row: drop the path's oracle
			// results now, before the next path's are made.
			j.local[i].Forget(name)
			if j.other[i] != nil {
				j.other[i].Forget(name)
			}
			j.wide[i].forget(name)
		}
	}
	if glob != nil {
		for i, tr := range j.s.Traces {
			if have[i] == nil || j.shape(have[i], cols) != "" {
				continue
			}
			r := row(tr.Path, GlobalOracle)
			r.Metrics = compare(have[i].Data, glob, tr.DType)
			r.Verdict = Info
			j.s.Rows = append(j.s.Rows, r)
		}
	}
	// Pair rows: every other path against the first.
	ref, rs := j.s.Traces[0], have[0]
	for i := 1; i < len(j.s.Traces); i++ {
		tr, sr := j.s.Traces[i], have[i]
		r := row(tr.Path, ref.Path)
		switch {
		case sr == nil:
			r.A, r.B = ref.Path, tr.Path
			r.Verdict, r.Note = Fused, tr.Path+" does not materialize it"
		case rs == nil:
			r.Verdict, r.Note = Fused, ref.Path+" does not materialize it"
		case j.shape(sr, cols) != "" || j.shape(rs, cols) != "":
			continue // already failed in a local row
		default:
			a, b := sr.Data, rs.Data
			r.Metrics = compare(a, b, tr.DType)
			if glob == nil {
				th := 4 * j.threshold(tr, []string{op})
				r.Bound, r.Verdict = Num(th), Pass
				if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
					r.Verdict = Fail
				}
				r.Note = "direct, no oracle"
				break
			}
			ca, cb := compare(a, glob, tr.DType), compare(b, glob, ref.DType)
			errRef, extra := float64(cb.RMSE), ""
			if tr.Rounding != ref.Rounding && j.globalVec != nil {
				// err(a) ≤ m·(err(b) + R) + floor, R = rmse of the f64
				// forward with vec_dot rounding against the exact one.
				gv, err := j.globalVec.Value(name)
				if err != nil {
					return err
				}
				rr := float64(Compare(gv.Data, glob, F32).RMSE)
				errRef += rr
				extra = fmt.Sprintf("; numerics differ (%s %s, %s %s): + the %s rounding's own rmse %.3g", tr.Path, tr.Numerics, ref.Path, ref.Numerics, RoundingVecDot, rr)
			}
			ok, bound := NoWorse(float64(ca.RMSE), errRef, float64(cb.RMSRef), tr.DType)
			r.Bound, r.Verdict, r.ErrA, r.ErrB = Num(bound), Pass, ca.RMSE, cb.RMSE
			r.Note = fmt.Sprintf("rmse vs f64: %s %.3g, %s %.3g", tr.Path, float64(ca.RMSE), ref.Path, float64(cb.RMSE)) + extra
			if !ok && r.NonFinite == 0 {
				// Over the bound through drift alone? The op itself,
				// fed each path's own inputs, is no worse: the excess
				// came from upstream (whose own rows judge it) and was
				// amplified here (attention's softmax does that). Each
				// local error is against the path's own declared
				// arithmetic (its rounding included), so the two compare
				// across numerics profiles too. The
				// reference's local error must span no more ops than
				// the candidate's (a fused candidate's covers more, which
				// only makes the rule stricter for it).
				if la, lb := localRMSE[i], localRMSE[0]; la >= 0 && lb >= 0 && localOps[0] <= localOps[i] {
					if local, lbound := NoWorse(la, lb, float64(cb.RMSRef), tr.DType); local {
						ok = true
						r.Note += fmt.Sprintf("; over the drift bound %.3g, but inherited: the op's own error is no worse (local rmse %s %.3g ≤ %.3g from %s %.3g)",
							bound, tr.Path, la, lbound, ref.Path, lb)
					}
				}
			}
			if !ok || r.NonFinite > 0 {
				r.Verdict = Fail
			}
		}
		j.s.Rows = append(j.s.Rows, r)
	}
	return nil
}

// shape explains why a captured series cannot be compared, or returns "".
func (j *judge) shape(sr *Series, cols int) string {
	switch {
	case sr.Cols != cols:
		return fmt.Sprintf("captured width %d, want %d", sr.Cols, cols)
	case sr.Rows != j.n:
		return fmt.Sprintf("captured %d of %d positions", sr.Rows, j.n)
	}
	return ""
}

// widened adapts a capture to the oracle's Captured callback, widening each
// series once and keeping the float64 copy until forget drops it.
type widened struct {
	c    *Capture
	memo map[string][]float64
}

func newWidened(c *Capture) *widened { return &widened{c: c, memo: map[string][]float64{}} }

// get is the oracle's Captured callback.
func (w *widened) get(name string) ([]float64, bool) {
	if v, ok := w.memo[name]; ok {
		return v, true
	}
	v, ok := w.c.Float64(name)
	if ok {
		w.memo[name] = v
	}
	return v, ok
}

// forget drops the float64 copy of name.
func (w *widened) forget(name string) { delete(w.memo, name) }
