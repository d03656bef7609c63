// Package oracle recomputes every checkpoint of a forward pass in float64,
// independently of the execution paths it judges.
//
// Weights are dequantized exactly (gguf.DequantizeF64) and every operation —
// RMSNorm, the projections (gonum blas64 GEMMs), RoPE (normal and NeoX),
// grouped-query causal attention, SwiGLU, the residual adds — is carried out
// in float64.
//
// One Evaluator serves both oracles DESIGN.md defines:
//
//   - the GLOBAL oracle (no captured values): Value(name) computes name from
//     the tokens alone, a full float64 forward;
//   - the LOCAL, teacher-forced oracle (Options.Captured set to one path's
//     checkpoints): Compute(name) recomputes name from the nearest
//     checkpoints that same path materialized upstream of it, so that one
//     kernel's error is isolated from the drift it inherited.
package oracle
