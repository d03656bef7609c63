package parity

import (
	"fmt"
	"slices"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// How a path prepares the input of a mul_mat whose weights are not F32.
const (
	// RoundingExact: the float32 activations are multiplied as they are
	// (the plain profile).
	RoundingExact = "exact"
	// RoundingVecDot: activations are first rounded as llama.cpp's CPU
	// backend does for the weight's dtype (its vec_dot_type: f16 for F16
	// weights, bf16 for BF16, Q8_0 or Q8_K blocks for quantized ones;
	// package parity/oracle/vecdot). llama.cpp does this, and so do
	// metallic's paths under the ggml-cpu profile.
	RoundingVecDot = "vec_dot"
)

// Both are legitimate arithmetic, and a path declares which it uses
// through its numerics (model.Path.Numerics). The local oracle applies the
// rounding the declaration implies — it never looks at the outputs to
// choose, so a kernel that rounds wrongly cannot make the judge copy it.
// Where the weights make the two differ, the oracle also computes each
// mul_mat the other way: a checkpoint whose values fit the other rounding
// clearly better (NMSE under 1/RoundingMargin of the declared one's,
// above a floor of 1/1000 of the checkpoint's threshold) fails, naming the
// rounding that fits and both NMSEs.

// RoundingMargin is how much better (in NMSE) the undeclared rounding must
// fit a checkpoint for it to fail as wrongly rounded.
const RoundingMargin = 10

// RoundingFor returns the mul_mat input rounding a declared numerics
// implies: RoundingExact for plain, RoundingVecDot for ggml-cpu and for
// llama.cpp (whose CPU backend rounds so). Any other name is an error: the
// oracle does not guess.
func RoundingFor(numerics string) (string, error) {
	switch numerics {
	case string(backend.Plain):
		return RoundingExact, nil
	case string(backend.GGMLCPU), model.NumericsLlamaCpp:
		return RoundingVecDot, nil
	}
	return "", fmt.Errorf("parity: unknown numerics %q declared (want %s, %s or %s)", numerics, backend.Plain, backend.GGMLCPU, model.NumericsLlamaCpp)
}

// localOracles returns tr's local oracle, with the rounding tr's declared
// numerics implies (recorded in tr.Rounding), and, when some projection
// weight is not F32, the oracle with the other rounding (else nil). Both
// read tr's captures through wd, which widens each once.
func localOracles(cfg *model.Config, w *model.Weights, tokens []int32, cache *oracle.Cache, tr *Trace, wd *widened) (declared, other *oracle.Evaluator, err error) {
	if tr.Rounding, err = RoundingFor(tr.Numerics); err != nil {
		return nil, nil, fmt.Errorf("parity: path %s: %w", tr.Path, err)
	}
	mk := func(round bool) (*oracle.Evaluator, error) {
		return oracle.New(oracle.Options{Config: cfg, Weights: w, Tokens: tokens, Cache: cache,
			Captured: wd.get, RoundActivations: round, KVF16: tr.KV == F16})
	}
	vec := tr.Rounding == RoundingVecDot
	if declared, err = mk(vec); err != nil || !nonF32MatMul(w) {
		return declared, nil, err
	}
	other, err = mk(!vec)
	return declared, other, err
}

// otherRounding names the rounding that is not r.
func otherRounding(r string) string {
	if r == RoundingVecDot {
		return RoundingExact
	}
	return RoundingVecDot
}

// misrounded checks a local row whose recomputation involved a mul_mat
// against the oracle with the other rounding; it returns the failure note
// when the other rounding fits clearly better, else "".
func misrounded(tr *Trace, other *oracle.Evaluator, name string, ops []string, got []float32, declared Num, th float64) (string, error) {
	if other == nil || !slices.Contains(ops, "mul_mat") {
		return "", nil
	}
	alt, err := other.Compute(name)
	if err != nil {
		return "", err
	}
	if len(alt.Data) != len(got) {
		return "", nil
	}
	na := compare(got, alt.Data, tr.DType).NMSE
	if !(float64(declared) > th/1000 && float64(na)*RoundingMargin < float64(declared)) {
		return "", nil
	}
	return fmt.Sprintf("mul_mat inputs fit %s rounding (nmse %.3g) better than the %s rounding its declared numerics %s implies (nmse %.3g)",
		otherRounding(tr.Rounding), float64(na), tr.Rounding, tr.Numerics, float64(declared)), nil
}

// nonF32MatMul reports whether any projection weight is stored in a type
// other than F32 (where the two roundings differ).
func nonF32MatMul(w *model.Weights) bool {
	for _, x := range projections(w) {
		if x.Type != gguf.TypeF32 {
			return true
		}
	}
	return false
}

// projections lists the weights of w's mul_mats that are present.
func projections(w *model.Weights) []*model.Weight {
	var ws []*model.Weight
	add := func(xs ...*model.Weight) {
		for _, x := range xs {
			if x.Data != nil {
				ws = append(ws, x)
			}
		}
	}
	add(&w.Output)
	for i := range w.Layers {
		l := &w.Layers[i]
		add(&l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down)
	}
	return ws
}
