// Package parity proves, checkpoint by checkpoint and token by token, that
// metallic's execution paths compute the same thing.
//
// A run drives every path (model.Path) over the same tokens — a prefill of
// the prompt, then single-token decode steps — with a Capture hook that
// copies every checkpoint the path materializes (DESIGN.md's checkpoint
// table), position by position, without changing what the path computes.
// An optional Perturbation multiplies one checkpoint of one path by
// (1 + rel·u) as it is produced, to prove that faults are localized.
//
// RunSteps then judges each captured checkpoint:
//
//   - against the LOCAL float64 oracle (package oracle), recomputed from
//     that path's own upstream checkpoints: pass iff its NMSE is within the
//     per-op, per-dtype bound of the Thresholds table;
//   - against the GLOBAL float64 oracle (a full forward from the tokens):
//     shown as drift, never a verdict;
//   - against the first path (the reference): "no worse than the
//     reference", err(cand) ≤ m·err(ref) + 1 ULP, errors as RMSE against
//     the global oracle; checkpoints only one path materializes are listed
//     as fused, never as a pass.
//
// Bisect names the first checkpoint, in execution order, whose local error
// fails. RunTokens compares seeded generation streams, classifies the first
// divergence (tie_flip, drift, wrong) and measures teacher-forced KL
// divergence, top-1 agreement and RMS Δp. Metrics, Compare and Num are
// shared with package golden.
package parity
