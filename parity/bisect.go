package parity

import (
	"fmt"
	"strings"
)

// BisectResult names the first checkpoint, in execution order, whose local
// error fails: the kernel to look at.
type BisectResult struct {
	Setup             // the steps' (how the paths ran)
	Found      bool   `json:"found"`
	Checkpoint string `json:"checkpoint"` // full name; "" when nothing failed
	Layer      int    `json:"layer"`      // -1 outside blocks
	Op         string `json:"op"`
	Path       string `json:"path"`
	Against    string `json:"against"` // "local" oracle, or the other path
	Evidence   string `json:"evidence"`
	Row        *Row   `json:"row"`
	// Numerics is, per path, the arithmetic it declares.
	Numerics map[string]string `json:"numerics"`
	// Stage and Of are set when the first failure is a stage checkpoint
	// of an unfused kernel (--unfuse): Checkpoint is then the stage
	// checkpoint ("blk.1.ffn_act.swiglu"), Stage the stage ("swiglu") and
	// Of the checkpoint its kernel produces ("blk.1.ffn_act").
	Stage string `json:"stage,omitempty"`
	Of    string `json:"of,omitempty"`
	// Composition is true when the first failure is a fused kernel whose
	// stages all pass when run unfused: the fault is in the composition.
	Composition bool `json:"composition"`
}

// Bisect finds the first failing local row of s (or, when s was run without
// an oracle, the first failing path-vs-path row). Fused-vs-reference
// failures are not local and are reported only when no local row fails, as
// evidence for a kernel whose inputs were already off.
func Bisect(s *Steps) (*BisectResult, error) {
	if s == nil {
		return nil, fmt.Errorf("parity: bisect of no steps")
	}
	res := &BisectResult{Setup: s.Setup, Layer: -1, Numerics: s.Numerics}
	noOracle := true
	for _, r := range s.Rows {
		if r.B == LocalOracle {
			noOracle = false
		}
	}
	for i := range s.Rows {
		r := &s.Rows[i]
		if !r.Failed() {
			continue
		}
		local := r.B == LocalOracle
		if noOracle {
			local = r.B != GlobalOracle
		}
		if !local {
			continue
		}
		rc := *r
		res.Found, res.Checkpoint, res.Layer, res.Op = true, r.Checkpoint, r.Layer, r.Op
		res.Path, res.Against, res.Row = r.A, r.B, &rc
		res.Stage, res.Of, res.Composition = r.Stage, r.Of, r.Composition
		res.Evidence = evidence(r)
		if r.Stage != "" {
			res.Evidence = fmt.Sprintf("stage %s of the kernel that produces %s: %s", r.Stage, r.Of, res.Evidence)
		}
		return res, nil
	}
	var other []string
	for _, r := range s.Rows {
		if r.Failed() {
			other = append(other, fmt.Sprintf("%s %s vs %s", r.Checkpoint, r.A, r.B))
		}
	}
	if len(other) > 0 {
		res.Evidence = "no local failure; other failures: " + strings.Join(other, "; ")
	} else {
		res.Evidence = fmt.Sprintf("every checkpoint of %s passes over %d positions", strings.Join(s.Paths, ", "), len(s.Tokens))
	}
	return res, nil
}

// evidence explains a failing row in one line.
func evidence(r *Row) string {
	var b strings.Builder
	if r.NonFinite > 0 {
		fmt.Fprintf(&b, "%d non-finite values where %s is finite; ", r.NonFinite, r.B)
	}
	if r.Note != "" && strings.HasPrefix(r.Note, "captured") {
		fmt.Fprintf(&b, "%s: %s", r.A, r.Note)
		return b.String()
	}
	against := r.B
	if r.B == LocalOracle {
		against = "its local float64 oracle"
	}
	fmt.Fprintf(&b, "%s vs %s: nmse %.3g exceeds %.3g (%s); max_abs %.3g at position %d column %d, cos %.9f",
		r.A, against, float64(r.NMSE), float64(r.Bound), r.Op, float64(r.MaxAbs), r.MaxAbsPos, r.MaxAbsCol, float64(r.Cos))
	if r.Note != "" {
		fmt.Fprintf(&b, "; %s", r.Note)
	}
	return b.String()
}
