package oracle

import (
	"fmt"

	"github.com/metallic-go/metallic/model"
)

// Stage recomputes stage checkpoint s (a stage of a fused kernel that a
// path ran on its own, model.Stage) in float64 from its inputs: captured
// stage checkpoints and checkpoints as the path materialized them, and
// checkpoints it did not materialize recomputed from the graph (their ops
// then join Result.Ops). A stage without an op cannot be evaluated.
func (e *Evaluator) Stage(s model.Stage) (*Result, error) {
	if r, ok := e.memo[s.Name]; ok {
		return r, nil
	}
	if s.Op == "" {
		return nil, fmt.Errorf("oracle: stage %s has no graph op to evaluate", s.Name)
	}
	r := &Result{Cols: s.Cols, Ops: []string{string(s.Op)}}
	in := make([]*Result, len(s.Inputs))
	for i, name := range s.Inputs {
		v, err := e.stageInput(name)
		if err != nil {
			return nil, fmt.Errorf("oracle: stage %s: %w", s.Name, err)
		}
		in[i] = v
		r.Ops = appendNew(r.Ops, v.Ops...)
		r.Inputs = appendNew(r.Inputs, v.Inputs...)
	}
	node := model.Node{Kind: s.Name, Op: s.Op, Weights: s.Weights}
	var err error
	if r.Data, err = e.apply(node, s.Layer, in); err != nil {
		return nil, fmt.Errorf("oracle: stage %s: %w", s.Name, err)
	}
	if err := e.ties(node, s.Layer, in, s.Inputs, r); err != nil {
		return nil, fmt.Errorf("oracle: stage %s: %w", s.Name, err)
	}
	if len(r.Data) != e.n*s.Cols {
		return nil, fmt.Errorf("oracle: stage %s: computed %d values, want %d positions × %d", s.Name, len(r.Data), e.n, s.Cols)
	}
	if e.o.Jitter != 0 {
		for i, v := range r.Data {
			r.Data[i] = v * (1 + e.o.Jitter*e.uniform())
		}
	}
	e.memo[s.Name] = r
	return r, nil
}

// stageInput is an input of a stage: captured when the path materialized
// it (a stage checkpoint must be), else a checkpoint's Value.
func (e *Evaluator) stageInput(name string) (*Result, error) {
	if _, _, err := model.ParseCheckpoint(name); err == nil {
		return e.Value(name)
	}
	if e.o.Captured != nil {
		if d, ok := e.o.Captured(name); ok {
			if e.n == 0 || len(d) == 0 || len(d)%e.n != 0 {
				return nil, fmt.Errorf("captured %s has %d values for %d positions", name, len(d), e.n)
			}
			return &Result{Data: d, Cols: len(d) / e.n, Inputs: []string{name}, captured: true}, nil
		}
	}
	return nil, fmt.Errorf("input %s was not materialized", name)
}
