package parity

import (
	"errors"
	"fmt"
	"math"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// FidelityRow is one checkpoint of one forward call of a teacher-forced
// comparison: path A's op recomputed from path B's inputs, compared with
// B's output bit for bit and, when judged, with its float64 local oracle.
type FidelityRow struct {
	Checkpoint string `json:"checkpoint"` // full name, e.g. "blk.3.ffn_act"
	Layer      int    `json:"layer"`      // block index, -1 outside blocks
	Op         string `json:"op"`         // checkpoint kind, e.g. "ffn_act"
	Pos        int    `json:"pos"`        // first position of the forward call
	Values     int    `json:"values"`
	Differ     int    `json:"differ"`  // values whose bits differ
	MaxULP     int64  `json:"max_ulp"` // largest difference in float32 ulps
	// NMSE is A's output against B's, given the same inputs.
	NMSE Num `json:"nmse"`
	// First is the first differing value: "[row,col] a=… b=…".
	First string `json:"first,omitempty"`
	// When judged (Fidelity.Judged; zero otherwise, and no verdict):
	// OracleNMSE is A's output against the
	// float64 local oracle recomputed from the same inputs (B's),
	// OracleNMSEB B's own output against it (B's local verdict), Bound the
	// local bound of the op (Thresholds, at A's storage dtypes), Verdict
	// pass or FAIL (A's error against the bound; any non-finite value
	// where the oracle is finite fails).
	OracleNMSE  Num    `json:"nmse_oracle"`
	OracleNMSEB Num    `json:"nmse_oracle_b"`
	Bound       Num    `json:"bound"`
	NonFinite   int    `json:"non_finite"`
	Verdict     string `json:"verdict,omitempty"`
}

// Failed reports whether the row is judged and fails.
func (r *FidelityRow) Failed() bool { return r.Verdict == Fail }

// Fidelity is the result of RunFidelity (and TeacherForce).
type Fidelity struct {
	// Setup is filled from the targets; a caller that knows the session's
	// (Session.Setup) may replace it.
	Setup
	A string `json:"a"` // the path whose ops are checked
	B string `json:"b"` // the path whose inputs they get
	// Numerics is, per path, the arithmetic it declares.
	Numerics map[string]string `json:"numerics"`
	Tokens   []int32           `json:"tokens"`
	Rows     []FidelityRow     `json:"rows"`
	// Missing lists B's checkpoints A does not materialize (fused), which
	// are therefore not compared and not forced.
	Missing []string `json:"missing,omitempty"`
	// Identical is true when every compared value is bit-identical.
	Identical bool `json:"identical"`
	// FirstDiffer is the first row (in execution order) with a difference.
	FirstDiffer *FidelityRow `json:"first_differ"`
	// Judged is true when every row was judged against its float64 local
	// oracle (FidelityOptions.Weights); FirstFailure is then the first row
	// out of its bound, nil when every op is within bounds.
	Judged       bool         `json:"judged"`
	FirstFailure *FidelityRow `json:"first_failure"`
	// Promise, when set (by the caller, from BitIdentity), says whether
	// the two paths promise bit identity on this model.
	Promise *Promise `json:"promise,omitempty"`
}

// Failed reports whether a judged op is out of its bound.
func (f *Fidelity) Failed() bool { return f.FirstFailure != nil }

// FidelityOptions configure RunFidelity.
type FidelityOptions struct {
	// A's ops are checked; B supplies their inputs. Their Name and DType
	// name and judge them as in steps (an empty DType means f32).
	A, B   Target
	Prompt []int32
	// Decode greedy tokens (B's choice) follow the prompt, one forward
	// call each.
	Decode int
	// Perturb, if not nil, is applied to A's checkpoints before the
	// comparison (to show that a fault is localized).
	Perturb model.Hook
	// Weights, when set, judge every row: A's output against the float64
	// local oracle recomputed from the inputs A was given (with the
	// mul_mat rounding A's numerics declares), with the bound of steps'
	// local rows. Without it rows report the differences only.
	Weights *model.Weights
}

// TeacherForce is RunFidelity of a's ops on b's inputs without an oracle
// (bit for bit only; both in f32).
func TeacherForce(a, b model.Path, prompt []int32, decode int, perturb model.Hook) (*Fidelity, error) {
	return RunFidelity(FidelityOptions{A: Target{Path: a, DType: F32}, B: Target{Path: b, DType: F32}, Prompt: prompt, Decode: decode, Perturb: perturb})
}

// RunFidelity runs the prompt and then Decode greedy tokens (B's choice)
// through B, capturing every checkpoint, and then through A with each of
// A's checkpoints compared with B's and then overwritten by it, so that
// every op of A sees B's inputs: a difference is that op's own, not
// inherited drift. It is the tool that names the guilty kernel of a
// backend: A on the GPU, B on the cpu. Both paths are Reset afterwards.
func RunFidelity(o FidelityOptions) (*Fidelity, error) {
	a, b := o.A, o.B
	if len(o.Prompt) == 0 {
		return nil, errors.New("parity: teacher forcing needs a prompt")
	}
	if a.DType == "" {
		a.DType = F32
	}
	if b.DType == "" {
		b.DType = F32
	}
	an, bn := a.name(), b.name()
	if an == bn {
		return nil, fmt.Errorf("parity: fidelity of %s against itself (name the backends: PATH@BACKEND)", an)
	}
	tb, err := Run(b, RunOptions{Tokens: o.Prompt, Decode: o.Decode})
	if err != nil {
		return nil, err
	}
	capB := tb.Capture
	f := &Fidelity{Setup: SetupOf([]Target{a, b}), A: an, B: bn, Identical: true, Tokens: tb.Tokens,
		Numerics: map[string]string{an: a.Path.Numerics(), bn: b.Path.Numerics()}}
	type key struct {
		name string
		pos  int
	}
	rows := map[key]*FidelityRow{}
	compared := map[string]bool{} // checkpoint names compared in any call
	got := map[key][]float32{}    // A's values before forcing, for the oracle
	var herr error
	fail := func(err error) {
		if herr == nil {
			herr = err
		}
	}
	p := a.Path
	p.SetHook(func(t *model.Tensor) {
		if o.Perturb != nil {
			o.Perturb(t)
		}
		sr, ok := capB.Series[t.Name]
		if !ok {
			return // B does not materialize it: nothing to compare or force
		}
		if t.Cols != sr.Cols || len(t.Data) != t.Rows*t.Cols || t.Pos < 0 || t.Pos+t.Rows > sr.Rows {
			fail(fmt.Errorf("parity: %s at position %d: %s has %d×%d values, %s %d columns over %d positions", t.Name, t.Pos, an, t.Rows, t.Cols, bn, sr.Cols, sr.Rows))
			return
		}
		w := sr.Data[t.Pos*sr.Cols : (t.Pos+t.Rows)*sr.Cols]
		k := key{t.Name, t.Pos}
		r := &FidelityRow{Checkpoint: t.Name, Layer: t.Layer, Op: checkpointKind(t.Name), Pos: t.Pos, Values: len(w)}
		for i, v := range t.Data {
			if math.Float32bits(v) == math.Float32bits(w[i]) {
				continue
			}
			r.Differ++
			if u := abs64(F32.ordered(float64(v)) - F32.ordered(float64(w[i]))); u > r.MaxULP {
				r.MaxULP = u
			}
			if r.First == "" {
				r.First = fmt.Sprintf("[%d,%d] %s=%g %s=%g", i/max(t.Cols, 1), i%max(t.Cols, 1), an, v, bn, w[i])
			}
		}
		r.NMSE = compare(t.Data, w, a.DType).NMSE
		if o.Weights != nil {
			got[k] = append([]float32(nil), t.Data...)
		}
		rows[k], compared[t.Name] = r, true
		copy(t.Data, w)
	})
	defer p.SetHook(nil)
	defer p.Reset()
	p.Reset()
	for _, c := range capB.Calls {
		if _, err := p.Forward(tb.Tokens[c.Pos:c.Pos+c.Rows], c.Pos); err != nil {
			return nil, fmt.Errorf("parity: %s: %w", an, err)
		}
		if herr != nil {
			return nil, herr
		}
	}
	seen := map[string]bool{}
	for _, c := range capB.Calls {
		for _, name := range capB.Order {
			if r, ok := rows[key{name, c.Pos}]; ok {
				f.Rows = append(f.Rows, *r)
			} else if kind := checkpointKind(name); !seen[kind] && !compared[name] {
				seen[kind] = true
				f.Missing = append(f.Missing, kind)
			}
		}
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("parity: %s and %s share no checkpoint", an, bn)
	}
	if o.Weights != nil {
		if err := judgeFidelity(f, a, capB, tb.Tokens, o.Weights, func(i int) []float32 {
			r := &f.Rows[i]
			return got[key{r.Checkpoint, r.Pos}]
		}); err != nil {
			return nil, err
		}
	}
	for i := range f.Rows {
		if f.Rows[i].Differ > 0 && f.FirstDiffer == nil {
			f.Identical = false
			f.FirstDiffer = &f.Rows[i]
		}
		if f.Rows[i].Failed() && f.FirstFailure == nil {
			f.FirstFailure = &f.Rows[i]
		}
	}
	return f, nil
}

// judgeFidelity judges every row of f: A's output (got(i), before it was
// overwritten by B's) against the float64 local oracle recomputed from
// B's capture — the inputs A was given — with the mul_mat rounding A's
// numerics declares, at the bound of steps' local rows.
func judgeFidelity(f *Fidelity, a Target, capB *Capture, tokens []int32, w *model.Weights, got func(i int) []float32) error {
	cfg := a.Path.Config()
	tr := &Trace{Path: a.name(), Numerics: a.Path.Numerics(), DType: a.DType, KV: a.kv(), Capture: capB}
	ev, _, err := localOracles(cfg, w, tokens, oracle.NewCache(), tr, newWidened(capB))
	if err != nil {
		return err
	}
	f.Judged = true
	for i := range f.Rows {
		r := &f.Rows[i]
		res, err := ev.Compute(r.Checkpoint)
		if err != nil {
			return err
		}
		cols := res.Cols
		n := r.Values / max(cols, 1)
		if cols <= 0 || r.Pos+n > len(tokens) || len(res.Data) < (r.Pos+n)*cols {
			return fmt.Errorf("parity: oracle of %s: %d values for %d positions of %d columns", r.Checkpoint, len(res.Data), r.Pos+n, cols)
		}
		th := localBound(a.DType, a.kv(), res.Ops)
		rs, err := resolveTies(got(i), res, r.Pos, r.Pos+n, a.DType, th)
		if err != nil {
			return err
		}
		want := rs.want
		ma := compare(got(i), want, a.DType)
		sr := capB.Series[r.Checkpoint]
		mb := compare(sr.Data[r.Pos*cols:(r.Pos+n)*cols], want, a.DType)
		r.OracleNMSE, r.OracleNMSEB, r.Bound, r.NonFinite = ma.NMSE, mb.NMSE, Num(th), ma.NonFinite
		r.Verdict = Pass
		if ma.NonFinite > 0 || !(float64(ma.NMSE) <= th) {
			r.Verdict = Fail
		}
	}
	return nil
}

// checkpointKind is the op part of a checkpoint name: "blk.3.ffn_act" →
// "ffn_act", "logits" → "logits" (the name itself if it is not one).
func checkpointKind(name string) string {
	if kind, _, err := model.ParseCheckpoint(name); err == nil {
		return kind
	}
	return name
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
