package parity

import (
	"fmt"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// LocalExpected returns what a step table's local row of checkpoint name
// (or, with st, of that stage checkpoint) compares trace tr's values
// with: the float64 recomputation from tr's own materialized inputs, with
// the mul_mat input rounding tr's declared numerics implies, as RunSteps
// computes it (with its activation quantization ties resolved against
// tr's captured values of name where the row fails without them, as the
// row is). It returns the values,
// row-major [positions, cols], and the ops evaluated (for the row's bound).
func LocalExpected(cfg *model.Config, w *model.Weights, tr *Trace, name string, st *model.Stage) ([]float64, []string, error) {
	ev, _, err := localOracles(cfg, w, tr.Tokens, oracle.NewCache(), tr, newWidened(tr.Capture))
	if err != nil {
		return nil, nil, err
	}
	var res *oracle.Result
	if st != nil {
		res, err = ev.Stage(*st)
	} else {
		res, err = ev.Compute(name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parity: local oracle of %s: %w", name, err)
	}
	// The row resolves the oracle's activation quantization ties against
	// the path's values (ties.go): so does its expectation here.
	key := name
	if st != nil {
		key = st.Name
	}
	if sr, ok := tr.Capture.Series[key]; ok && len(res.Ties) > 0 && res.Cols > 0 && len(sr.Data) == len(res.Data) {
		dt := tr.DType
		if st != nil && st.F32 {
			dt = F32 // as judgeStage judges it
		}
		rs, err := resolveTies(sr.Data, res, 0, len(res.Data)/res.Cols, dt, localBound(dt, tr.KV, res.Ops))
		if err != nil {
			return nil, nil, err
		}
		return rs.want, res.Ops, nil
	}
	return res.Data, res.Ops, nil
}

// LocalBound is the NMSE bound of a local row computed by ops for a path
// storing activations in dt and its KV cache in kv.
func LocalBound(dt, kv DType, ops []string) float64 { return localBound(dt, kv, ops) }
