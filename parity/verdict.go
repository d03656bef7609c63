package parity

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Verdicts of a row.
const (
	Pass  = "pass"
	Fail  = "FAIL"
	Fused = "fused" // materialized by one path only: not compared, never a pass
	Info  = "info"  // shown for context (drift against the global oracle)
)

// Threshold is one entry of the verdict table: the largest NMSE a path's
// checkpoint may have against its local float64 oracle.
type Threshold struct {
	Op    string  // get_rows, rms_norm, rope, add, swiglu, mul_mat, attention
	DType DType   // the path's activation storage dtype
	NMSE  float64 // pass iff nmse ≤ NMSE (and no non-finite value)
}

// Thresholds is THE verdict table of a path against its local (teacher-
// forced) float64 oracle, per op and storage dtype. Matmul-like ops
// (mul_mat, attention: long f32 accumulations) are looser than elementwise
// ones, as in llama.cpp's test-backend-ops. Weights are dequantized exactly
// and, for paths whose declared numerics round mul_mat inputs as llama.cpp
// does (ggml-cpu, llamacpp), the oracle applies that same rounding (see
// RoundingFor), so the weight dtype needs no row of its own. One rounding to a dtype with p mantissa bits has
// NMSE ≈ 2^(−2p−2)/3: 1.8e-15 for f32, 8e-8 for f16, 5e-6 for bf16; each
// f32 threshold is ≥ 10⁴× what a correct kernel reaches on our models and
// below the 3.3e-7 that `--perturb …=1e-3` injects (rel²/3).
var Thresholds = []Threshold{
	{"get_rows", F32, 1e-12}, {"add", F32, 1e-10}, {"rms_norm", F32, 1e-9},
	{"swiglu", F32, 1e-9}, {"rope", F32, 1e-8}, {"mul_mat", F32, 1e-8},
	{"attention", F32, 1e-8},

	{"get_rows", F16, 1e-6}, {"add", F16, 1e-5}, {"rms_norm", F16, 1e-5},
	{"swiglu", F16, 1e-5}, {"rope", F16, 1e-5}, {"mul_mat", F16, 5e-5},
	{"attention", F16, 5e-5},

	{"get_rows", BF16, 1e-4}, {"add", BF16, 1e-3}, {"rms_norm", BF16, 1e-3},
	{"swiglu", BF16, 1e-3}, {"rope", BF16, 1e-3}, {"mul_mat", BF16, 3e-3},
	{"attention", BF16, 3e-3},
}

// ThresholdFor returns the NMSE bound for op in dtype d, and false when the
// table has no entry.
func ThresholdFor(op string, d DType) (float64, bool) {
	for _, t := range Thresholds {
		if t.Op == op && t.DType == d {
			return t.NMSE, true
		}
	}
	return 0, false
}

// chainThreshold is the loosest bound among the ops a local oracle had to
// evaluate (a checkpoint whose inputs were fused away is judged as the fused
// chain). Unknown ops get the dtype's mul_mat bound.
func chainThreshold(ops []string, d DType) float64 {
	th := 0.0
	for _, op := range ops {
		t, ok := ThresholdFor(op, d)
		if !ok {
			t, _ = ThresholdFor("mul_mat", d)
		}
		th = math.Max(th, t)
	}
	return th
}

// FusedFactor is m in the fused-vs-reference rule: 2, or 3 when the
// candidate stores f16 or bf16.
func FusedFactor(d DType) float64 {
	if d == F16 || d == BF16 {
		return 3
	}
	return 2
}

// NoWorse applies DESIGN.md's fused-vs-reference rule: with errors measured
// as RMSE against the global float64 oracle, the candidate passes iff
// err(candidate) ≤ m·err(reference) + floor, where floor is one ULP of the
// candidate's storage dtype at the tensor's RMS scale.
func NoWorse(candRMSE, refRMSE, scale float64, d DType) (ok bool, bound float64) {
	bound = FusedFactor(d)*refRMSE + d.ULP(scale)
	return candRMSE <= bound, bound
}

// TieEps is the default top-2 logit gap under which a flip is a tie.
const TieEps = 1e-2

// KLLimit bounds the teacher-forced KL divergence (nats) between two
// paths storing activations in DType: a token stream passes when its first
// divergence (if any) is a tie_flip and kld_mean ≤ Mean, kld_max ≤ Max.
// Correct f32 paths reach ~1e-12; f16 storage moves logits by ~1e-3
// relative, which a random-weight model with sharp logits turns into KL
// ~1e-3.
type KLLimit struct {
	DType     DType
	Mean, Max float64
}

// KLLimits is the token-verdict table, per storage dtype.
var KLLimits = []KLLimit{{F32, 1e-3, 5e-2}, {F16, 1e-2, 2e-1}, {BF16, 5e-2, 5e-1}}

// KLLimitFor returns the KL bounds of dtype d (f32's when unknown).
func KLLimitFor(d DType) KLLimit {
	for _, l := range KLLimits {
		if l.DType == d {
			return l
		}
	}
	return KLLimits[0]
}

// Explain writes the verdict rules and the threshold table.
func Explain(w io.Writer) {
	fmt.Fprintln(w, "Verdicts")
	fmt.Fprintln(w, "  path vs local oracle: pass iff nmse ≤ threshold(op, dtype) and no non-finite value where the oracle is finite.")
	fmt.Fprintln(w, "    The local oracle recomputes each checkpoint in float64 from that path's own upstream checkpoints;")
	fmt.Fprintln(w, "    when an input was fused away it is recomputed too, and the loosest op of the chain sets the bound.")
	fmt.Fprintln(w, "    Its mul_mat inputs are rounded as the path's declared numerics implies: none (exact) under plain,")
	fmt.Fprintln(w, "    llama.cpp's vec_dot_type (vec_dot) under ggml-cpu and for llama.cpp; the outputs never choose it.")
	fmt.Fprintf(w, "    With non-F32 weights a row also fails when the other rounding fits it %d× better (nmse, above 1/1000 of\n", RoundingMargin)
	fmt.Fprintln(w, "    the threshold): the kernel rounds its inputs other than its numerics declares.")
	fmt.Fprintln(w, "  fused vs reference: pass iff rmse(cand, global f64) ≤ m·rmse(reference, global f64) + 1 ULP(dtype, rms),")
	fmt.Fprintln(w, "    m = 2 (3 for f16/bf16 storage). The direct cand-vs-reference diff is shown in the same row.")
	fmt.Fprintln(w, "    Over that bound, the row still passes when the excess is inherited: the op fed each path's own inputs")
	fmt.Fprintln(w, "    (local rows) is no worse by the same rule, so the drift came from upstream, whose rows judge it.")
	fmt.Fprintln(w, "    When the two paths' numerics round mul_mat inputs differently (plain vs llama.cpp) on non-F32 weights,")
	fmt.Fprintln(w, "    rmse(reference) is increased by the rounding's own effect: rmse(f64 with vec_dot rounding, f64 exact).")
	fmt.Fprintln(w, "  path vs global oracle: info (drift), never a verdict.")
	fmt.Fprintln(w, "  fused: a checkpoint only one path materializes — listed, never counted as a pass.")
	fmt.Fprintf(w, "  tokens: first divergence must be none or tie_flip (top-2 gap ≤ %g, each pick in the other's top-5);\n", TieEps)
	fmt.Fprint(w, "    teacher-forced KL (nats):")
	for _, l := range KLLimits {
		fmt.Fprintf(w, " %s kld_mean ≤ %g, kld_max ≤ %g;", l.DType, l.Mean, l.Max)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "    A pair whose numerics round mul_mat inputs differently is judged with the limits of that rounding's")
	fmt.Fprintln(w, "    precision when looser: f16 for F16 weights, bf16 for BF16 and quantized weights (8-bit Q8_0/Q8_K).")
	fmt.Fprintln(w, "  --perturb REL injects nmse ≈ REL²/3: detectable when REL > sqrt(3·threshold).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "NMSE thresholds (path vs local oracle)")
	ops := []string{"get_rows", "add", "rms_norm", "swiglu", "rope", "mul_mat", "attention"}
	dts := []DType{F32, F16, BF16}
	fmt.Fprintf(w, "  %-10s", "op")
	for _, d := range dts {
		fmt.Fprintf(w, " %9s", d)
	}
	fmt.Fprintln(w)
	for _, op := range ops {
		var b strings.Builder
		fmt.Fprintf(&b, "  %-10s", op)
		for _, d := range dts {
			if t, ok := ThresholdFor(op, d); ok {
				fmt.Fprintf(&b, " %9.0e", t)
			} else {
				fmt.Fprintf(&b, " %9s", "-")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
