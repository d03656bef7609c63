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
}

// Steps is a step-parity report.
type Steps struct {
	Arch  string   `json:"arch"`
	Paths []string `json:"paths"`
	Setup
	Tokens    []int32  `json:"tokens"`
	PromptLen int      `json:"prompt_len"`
	Perturb   []string `json:"perturb"`
	// Rounding says, per path, how it was found to prepare mul_mat inputs
	// (see Rounding); absent when every weight is F32.
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
	if err := checkPerturbations(o.Targets, o.Perturb); err != nil {
		return nil, err
	}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	cfg := o.Targets[0].Path.Config()
	s := &Steps{Arch: cfg.Arch, Setup: SetupOf(o.Targets), PromptLen: len(o.Prompt), Perturb: []string{}, Rows: []Row{}, Rounding: map[string]string{}}
	for _, p := range o.Perturb {
		s.Perturb = append(s.Perturb, p.String())
	}
	for i, t := range o.Targets {
		progress("run " + t.Path.Name())
		ro := RunOptions{Tokens: o.Prompt, Decode: o.Decode, Hook: perturbHook(t.Path.Name(), o.Perturb)}
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
		s.Paths = append(s.Paths, tr.Path)
		s.Traces = append(s.Traces, tr)
	}
	j := &judge{cfg: cfg, s: s, n: len(s.Tokens)}
	if !o.NoOracle {
		progress("float64 oracles")
		cache := oracle.NewCache()
		var err error
		if j.global, err = oracle.New(oracle.Options{Config: cfg, Weights: o.Weights, Tokens: s.Tokens, Cache: cache}); err != nil {
			return nil, err
		}
		for _, tr := range s.Traces {
			ev, err := localOracle(cfg, o.Weights, s.Tokens, cache, tr)
			if err != nil {
				return nil, err
			}
			j.local = append(j.local, ev)
			if tr.Rounding != "" {
				s.Rounding[tr.Path] = tr.Rounding
			}
		}
	}
	known := map[string]bool{}
	for _, name := range Order(cfg) {
		known[name] = true
		if err := j.checkpoint(name); err != nil {
			return nil, err
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
		if kind, _, err := model.ParseCheckpoint(r.Checkpoint); err == nil && r.MaxAbsIndex >= 0 && r.N > 0 {
			cols := oracle.Cols(cfg, kind)
			r.MaxAbsPos, r.MaxAbsCol = r.MaxAbsIndex/cols, r.MaxAbsIndex%cols
		}
	}
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
	s      *Steps
	n      int
	global *oracle.Evaluator
	local  []*oracle.Evaluator
}

// threshold is the NMSE bound of a checkpoint computed by ops; attention
// is judged at the coarser of the activation and KV-cache storage.
func (j *judge) threshold(tr *Trace, ops []string) float64 {
	th := chainThreshold(ops, tr.DType)
	if tr.KV != "" && tr.KV != tr.DType && slices.Contains(ops, "attention") {
		th = max(th, chainThreshold([]string{"attention"}, tr.KV))
	}
	return th
}

func (j *judge) checkpoint(name string) error {
	kind, layer, _ := model.ParseCheckpoint(name)
	op := oracle.Op(kind)
	row := func(a, b string) Row { return Row{Checkpoint: name, Layer: layer, A: a, B: b, Op: op} }
	cols := oracle.Cols(j.cfg, kind)
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
	// Local rows, then drift rows, per path.
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
		r.Metrics = Compare(widen(sr.Data), res.Data, tr.DType)
		th := j.threshold(tr, res.Ops)
		r.Bound = Num(th)
		r.Verdict = Pass
		if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
			r.Verdict = Fail
		}
		r.Note = "from " + strings.Join(res.Inputs, ",")
		if len(res.Ops) > 1 {
			r.Note += " via " + strings.Join(res.Ops, "+")
		}
		j.s.Rows = append(j.s.Rows, r)
	}
	if glob != nil {
		for i, tr := range j.s.Traces {
			if have[i] == nil || j.shape(have[i], cols) != "" {
				continue
			}
			r := row(tr.Path, GlobalOracle)
			r.Metrics = Compare(widen(have[i].Data), glob, tr.DType)
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
			a, b := widen(sr.Data), widen(rs.Data)
			r.Metrics = Compare(a, b, tr.DType)
			if glob == nil {
				th := 4 * j.threshold(tr, []string{op})
				r.Bound, r.Verdict = Num(th), Pass
				if r.NonFinite > 0 || !(float64(r.NMSE) <= th) {
					r.Verdict = Fail
				}
				r.Note = "direct, no oracle"
				break
			}
			ca, cb := Compare(a, glob, tr.DType), Compare(b, glob, ref.DType)
			ok, bound := NoWorse(float64(ca.RMSE), float64(cb.RMSE), float64(cb.RMSRef), tr.DType)
			r.Bound, r.Verdict, r.ErrA, r.ErrB = Num(bound), Pass, ca.RMSE, cb.RMSE
			if !ok || r.NonFinite > 0 {
				r.Verdict = Fail
			}
			r.Note = fmt.Sprintf("rmse vs f64: %s %.3g, %s %.3g", tr.Path, float64(ca.RMSE), ref.Path, float64(cb.RMSE))
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
// series once.
func widened(c *Capture) func(string) ([]float64, bool) {
	memo := map[string][]float64{}
	return func(name string) ([]float64, bool) {
		if v, ok := memo[name]; ok {
			return v, true
		}
		v, ok := c.Float64(name)
		if ok {
			memo[name] = v
		}
		return v, ok
	}
}
