package golden

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// Policy is a tolerance policy: the largest NMSE a checkpoint kind may show
// against the golden before it counts as a regression. It is recorded in
// the golden, so a file is always verified with the thresholds it was
// recorded with.
type Policy struct {
	Name  string    // e.g. "nmse-by-kind/v1/f32"
	Kinds []string  // checkpoint kinds ("q", "ffn_act", "logits", "gen_logits", "*")
	NMSE  []float64 // threshold of Kinds[i]
}

// The default thresholds. A golden compares a whole forward (drift
// included) with itself, so unchanged code gives NMSE 0; a benign change
// (another summation order, another thread split) moves float32 results by
// a few ULPs, NMSE around 1e-13…1e-11, far below these limits, while a
// perturbation of relative size r gives NMSE ≈ r²/3 at the checkpoint it
// hits (3e-7 for r = 1e-3). The embedding is a row copy (or an exact
// dequantization), so any change there is a regression. With f16 storage
// (or f16 activations) one f16 rounding flip moves an element by 2⁻¹¹
// relative, hence the looser thresholds.
var defaultNMSE = map[string]map[string]float64{
	storageF32: {"embd": 1e-12, "*": 1e-9, "logits": 1e-9, "gen_logits": 1e-9},
	storageF16: {"embd": 1e-9, "*": 1e-6, "logits": 1e-6, "gen_logits": 1e-6},
}

// DefaultPolicy returns the default policy for a storage dtype ("f32" or
// "f16"): one threshold per checkpoint kind, "*" for every kind not listed.
func DefaultPolicy(storage string) (Policy, error) {
	table, ok := defaultNMSE[storage]
	if !ok {
		return Policy{}, fmt.Errorf("golden: storage %q must be f32 or f16", storage)
	}
	p := Policy{Name: "nmse-by-kind/v1/" + storage}
	kinds := append(model.Kinds(), tensorGenLogits)
	for _, k := range kinds {
		v, ok := table[k]
		if !ok {
			v = table["*"]
		}
		p.Kinds = append(p.Kinds, k)
		p.NMSE = append(p.NMSE, v)
	}
	p.Kinds = append(p.Kinds, "*")
	p.NMSE = append(p.NMSE, table["*"])
	return p, nil
}

// Threshold returns the NMSE limit for a checkpoint ("blk.3.q", "logits",
// "gen_logits"): the entry of its kind, else the "*" entry, else 0.
func (p Policy) Threshold(checkpoint string) float64 {
	kind := checkpoint
	if k, _, err := model.ParseCheckpoint(checkpoint); err == nil {
		kind = k
	}
	star := 0.0
	for i, k := range p.Kinds {
		if k == kind {
			return p.NMSE[i]
		}
		if k == "*" {
			star = p.NMSE[i]
		}
	}
	return star
}

// String renders the policy as "name: kind=nmse …".
func (p Policy) String() string {
	var b strings.Builder
	b.WriteString(p.Name)
	b.WriteString(":")
	for i, k := range p.Kinds {
		fmt.Fprintf(&b, " %s=%g", k, p.NMSE[i])
	}
	return b.String()
}
