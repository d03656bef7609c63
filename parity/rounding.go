package parity

import (
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
)

// How a path prepares the input of a mul_mat whose weights are not F32.
const (
	// RoundingExact: the float32 activations are multiplied as they are.
	RoundingExact = "exact"
	// RoundingVecDot: activations are first rounded as llama.cpp's CPU
	// backend does for the weight's dtype (its vec_dot_type: f16 for F16
	// weights, bf16 for BF16, Q8_0 or Q8_K blocks for quantized ones), as
	// backend.RoundForDot documents. llama.cpp does this, and so does a
	// path that uses backend.OpMatMulQ to match it.
	RoundingVecDot = "vec_dot"
)

// Both are legitimate arithmetic, and the Path interface does not say which
// a path uses, so RunSteps detects it: with non-F32 weights it recomputes
// every mul_mat checkpoint the path materialized both ways and keeps, for
// the whole path, the way that fits more of them (ties: exact). One
// faulty checkpoint cannot flip the choice, and a perturbation fails both.
// The local oracle then applies the detected rounding before its float64
// product, so a verdict measures the kernel's own error.

// localOracle returns tr's local oracle, with the rounding detected from
// tr's captured checkpoints (recorded in tr.Rounding).
func localOracle(cfg *model.Config, w *model.Weights, tokens []int32, cache *oracle.Cache, tr *Trace) (*oracle.Evaluator, error) {
	mk := func(round bool) (*oracle.Evaluator, error) {
		return oracle.New(oracle.Options{Config: cfg, Weights: w, Tokens: tokens, Cache: cache,
			Captured: widened(tr.Capture), RoundActivations: round, KVF16: tr.KV == F16})
	}
	exact, err := mk(false)
	if err != nil || !nonF32MatMul(w) {
		return exact, err
	}
	round, err := mk(true)
	if err != nil {
		return nil, err
	}
	votes := 0
	for _, name := range tr.Capture.Order {
		kind, _, err := model.ParseCheckpoint(name)
		if err != nil || oracle.Op(kind) != "mul_mat" {
			continue
		}
		got, _ := tr.Capture.Float64(name)
		e, err := exact.Compute(name)
		if err != nil {
			continue // judged (and reported) with the rows
		}
		r, err := round.Compute(name)
		if err != nil || len(got) != len(e.Data) {
			continue
		}
		ne, nr := Compare(got, e.Data, tr.DType).NMSE, Compare(got, r.Data, tr.DType).NMSE
		switch {
		case nr < ne:
			votes++
		case ne < nr:
			votes--
		}
	}
	if votes > 0 {
		tr.Rounding = RoundingVecDot
		return round, nil
	}
	tr.Rounding = RoundingExact
	return exact, nil
}

// nonF32MatMul reports whether any projection weight is stored in a type
// other than F32 (where the two roundings differ).
func nonF32MatMul(w *model.Weights) bool {
	q := func(x model.Weight) bool { return x.Data != nil && x.Type != gguf.TypeF32 }
	if q(w.Output) {
		return true
	}
	for _, l := range w.Layers {
		if q(l.Q) || q(l.K) || q(l.V) || q(l.O) || q(l.Gate) || q(l.Up) || q(l.Down) {
			return true
		}
	}
	return false
}
