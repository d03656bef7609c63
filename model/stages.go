package model

import (
	"fmt"
	"strings"
)

// Stage is a stage checkpoint: the output of one stage of a fused kernel
// (an RMSNorm prologue, a GEMV main, a bias epilogue, …) that a path runs
// as a dispatch of its own and materializes, so that a fault can be
// localized inside the kernel. It is named after the checkpoint the
// kernel produces, "<checkpoint>.<stage>" ("blk.0.q.rmsnorm",
// "blk.0.q.gemv", "blk.0.q.bias", "logits.rmsnorm"), and defined, like a
// node of the checkpoint graph, by an op of the graph over inputs and
// weights, so that an oracle can evaluate it.
type Stage struct {
	// Name is the full stage checkpoint name, "<checkpoint>.<stage>".
	Name string
	// Of is the full name of the checkpoint whose kernel the stage belongs
	// to ("blk.0.q"); its rows are listed before that checkpoint's.
	Of string
	// Stage is the stage's name in the kernel ("rmsnorm", "gemv",
	// "gemv_up", "bias", "residual", "swiglu", "rope").
	Stage string
	Layer int // block index, -1 outside blocks
	// Op is the graph operation the stage computes; empty when the stage
	// has no counterpart in the graph (an oracle cannot judge it). OpAdd
	// with one input and one weight adds that weight (a bias) to every
	// row.
	Op Op
	// Inputs are the full names of the checkpoints or stage checkpoints
	// Op takes, in its order.
	Inputs []string
	// Weights are the GGUF tensors Op reads, named as in Node.Weights
	// (without the "blk.L." prefix; see Weights.Lookup).
	Weights []string
	// Cols is the row width.
	Cols int
	// F32 says the stage's output is stored in float32 whatever the
	// path's activation storage (an intermediate of the fused kernel,
	// which keeps it in float32 registers).
	F32 bool
}

// UnfusedSuffix is appended to a path's name when it runs unfused
// (PathOptions.Unfuse): "dsl-unfused".
const UnfusedSuffix = "-unfused"

// StagePath is implemented by a path that runs another path's fused
// kernels stage by stage (the dsl path with PathOptions.Unfuse).
type StagePath interface {
	Path
	// Stages lists the stage checkpoints the path materializes, every
	// layer's, in execution order; each stage's hook call comes before
	// the checkpoint it belongs to. Its name is the fused path's with
	// UnfusedSuffix ("dsl-unfused" runs the kernels of "dsl").
	Stages() []Stage
}

// SplitStage splits a stage checkpoint name into the checkpoint it
// belongs to and the stage ("blk.0.q.gemv" → "blk.0.q", "gemv"). It
// fails for a name that is not a checkpoint name followed by ".stage".
func SplitStage(name string) (checkpoint, stage string, err error) {
	i := strings.LastIndex(name, ".")
	if i <= 0 || i == len(name)-1 {
		return "", "", fmt.Errorf("model: %q is not a stage checkpoint name (want CHECKPOINT.STAGE, e.g. blk.0.q.gemv)", name)
	}
	cp, st := name[:i], name[i+1:]
	if _, _, err := ParseCheckpoint(cp); err != nil {
		return "", "", fmt.Errorf("model: %q is not a stage checkpoint name: %w", name, err)
	}
	for _, r := range st {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", "", fmt.Errorf("model: %q: stage %q is not a lower-case identifier", name, st)
		}
	}
	return cp, st, nil
}
