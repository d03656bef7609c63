package dsl

import (
	"github.com/metallic-go/metallic/model"
)

// The stage definitions of the built-in steps: what each stage of their
// fused kernels computes, in terms of the checkpoint graph (StageDef),
// for Unfuse. A stage that is a node of the graph (the QKV kernel's
// RMSNorm prologue computes attn_norm) takes that node's op, inputs and
// weights; a stage between two nodes (a projection's GEMV before its
// bias) takes the node's op with its own inputs or weights.

// qkvStages: rmsnorm ≡ attn_norm; gemv of q, k, v ≡ the projection
// without its bias, from the rmsnorm stage; bias ≡ add of the bias.
func qkvStages(b *Build, bias bool) ([]StageDef, error) {
	s := &stageDefs{b: b}
	s.node("rmsnorm", -1, "q.rmsnorm", "attn_norm", nil, nil)
	for o, kind := range []string{"q", "k", "v"} {
		node, _ := b.e.graph.Node(kind)
		s.node("gemv", o, kind+".gemv", kind, []string{b.full("q.rmsnorm")}, node.Weights[:1])
		if !bias {
			continue
		}
		d := StageDef{Stage: "bias", Output: o, Kind: kind + ".bias", Inputs: []string{b.full(kind + ".gemv")}}
		if len(node.Weights) == 2 {
			d.Op, d.Weights = model.OpAdd, node.Weights[1:]
		}
		s.add(d)
	}
	return s.defs, s.err
}

// ropeStages (with a per-head norm only; without one the kernel has a
// single stage): rmsnorm ≡ q_norm (k_norm); rope ≡ q_rope (k_rope) from
// the rmsnorm stage.
func ropeStages(b *Build, x string) ([]StageDef, error) {
	s := &stageDefs{b: b}
	cp := x + "_rope"
	s.node("rmsnorm", -1, cp+".rmsnorm", x+"_norm", nil, nil)
	s.node("rope", 0, cp+".rope", cp, []string{b.full(cp + ".rmsnorm")}, nil)
	return s.defs, s.err
}

// residualStages, for a checkpoint that the graph computes as the add of
// a residual and a projection (ffn_inp = x + attn_proj, l_out = ffn_inp +
// ffn_out): gemv ≡ the projection; bias (no graph op); residual ≡ the
// add, from the last stage before it. Other checkpoints get none.
func residualStages(b *Build, cps []Checkpoint, bias bool) ([]StageDef, error) {
	if len(cps) != 1 {
		return nil, nil
	}
	kind := cps[0].Kind
	node, ok := b.e.graph.Node(kind)
	if !ok || node.Op != model.OpAdd || len(node.Inputs) != 2 {
		return nil, nil
	}
	inputs, err := b.e.graph.Inputs(b.full(kind))
	if err != nil {
		return nil, b.Errorf("", "%v", err)
	}
	proj := -1
	for i, in := range inputs {
		if k, _, err := model.ParseCheckpoint(in); err == nil {
			if n, _ := b.e.graph.Node(k); n.Op == model.OpMulMat {
				proj = i
			}
		}
	}
	if proj < 0 {
		return nil, nil
	}
	pk, _, _ := model.ParseCheckpoint(inputs[proj])
	s := &stageDefs{b: b}
	s.node("gemv", 0, kind+".gemv", pk, nil, nil)
	last := kind + ".gemv"
	if bias {
		s.add(StageDef{Stage: "bias", Output: 0, Kind: kind + ".bias", Inputs: []string{b.full(last)}})
		last = kind + ".bias"
	}
	inputs[proj] = b.full(last)
	s.node("residual", 0, kind+".residual", kind, inputs, nil)
	return s.defs, s.err
}

// swigluStages: rmsnorm ≡ ffn_norm; the pair's GEMV ≡ ffn_gate and ffn_up
// from the rmsnorm stage; swiglu ≡ ffn_act from the two.
func swigluStages(b *Build) ([]StageDef, error) {
	s := &stageDefs{b: b}
	norm := []string{b.full("ffn_act.rmsnorm")}
	s.node("rmsnorm", -1, "ffn_act.rmsnorm", "ffn_norm", nil, nil)
	s.node("gemv", 0, "ffn_act.gemv_gate", "ffn_gate", norm, nil)
	s.node("gemv", 1, "ffn_act.gemv_up", "ffn_up", norm, nil)
	s.node("swiglu", 0, "ffn_act.swiglu", "ffn_act", []string{b.full("ffn_act.gemv_gate"), b.full("ffn_act.gemv_up")}, nil)
	return s.defs, s.err
}

// normGemvStages, for a checkpoint that the graph computes as a mul_mat
// of an rms_norm node (logits of output_norm): rmsnorm ≡ that node; gemv
// ≡ the checkpoint from the rmsnorm stage.
func normGemvStages(b *Build, cps []Checkpoint) ([]StageDef, error) {
	if len(cps) != 1 {
		return nil, nil
	}
	kind := cps[0].Kind
	node, ok := b.e.graph.Node(kind)
	if !ok || node.Op != model.OpMulMat || len(node.Inputs) != 1 {
		return nil, nil
	}
	inputs, err := b.e.graph.Inputs(b.full(kind))
	if err != nil {
		return nil, b.Errorf("", "%v", err)
	}
	nk, _, err := model.ParseCheckpoint(inputs[0])
	if n, _ := b.e.graph.Node(nk); err != nil || n.Op != model.OpRMSNorm {
		return nil, nil
	}
	s := &stageDefs{b: b}
	s.node("rmsnorm", -1, kind+".rmsnorm", nk, nil, nil)
	s.node("gemv", 0, kind+".gemv", kind, []string{b.full(kind + ".rmsnorm")}, nil)
	return s.defs, s.err
}
