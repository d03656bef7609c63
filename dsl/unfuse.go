package dsl

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/model"
)

// Unfused replay (model.PathOptions.Unfuse): every op whose kernel has two
// or more stages is emitted as one op per stage (kernel.Split), each
// composed from the same stage code, so the program computes what the
// fused one computes while every stage's output is a buffer. The stage
// outputs are materialized as stage checkpoints "<checkpoint>.<stage>"
// (blk.0.q.rmsnorm, blk.0.q.gemv, blk.0.q.bias), defined by the step in
// terms of the checkpoint graph (StageDef) so that the float64 oracle can
// judge each stage; the last stage of each output also materializes the
// op's own checkpoint, as the fused op does.

// StageDef says what one stage output of a fused op computes, in terms of
// the checkpoint graph's ops.
type StageDef struct {
	// Stage is the stage's name in the kernel: "rmsnorm", "gemv", "bias",
	// "residual", "swiglu", "rope".
	Stage string
	// Output is the output of the kernel's main the value belongs to (a
	// QKV GEMV: 0 q, 1 k, 2 v; a gate/up pair's GEMV: 0 gate, 1 up), or -1
	// for a prologue's, which feeds every output.
	Output int
	// Kind is the stage checkpoint's kind: "<checkpoint kind>.<stage>"
	// ("q.rmsnorm", "ffn_act.gemv_up").
	Kind string
	// Op is the graph operation it computes; empty when it has none (it
	// is then materialized, not judged).
	Op model.Op
	// Inputs are the full names of the checkpoints and stage checkpoints
	// Op takes; Weights the graph's names of the weights it reads.
	Inputs, Weights []string
}

// stageDef returns the definition of a stage output that computes graph
// node kind at the step's layer: its op, and its weights and inputs
// (full names) unless given.
func (b *Build) stageDef(stage string, out int, name, kind string, inputs, weights []string) (StageDef, error) {
	node, ok := b.e.graph.Node(kind)
	if !ok {
		return StageDef{}, b.Errorf("", "stage %s: a %s model has no %s checkpoint", name, b.e.graph.Config().Arch, kind)
	}
	d := StageDef{Stage: stage, Output: out, Kind: name, Op: node.Op, Inputs: inputs, Weights: weights}
	if weights == nil {
		d.Weights = node.Weights
	}
	if inputs == nil {
		full, err := b.e.graph.Inputs(b.full(kind))
		if err != nil {
			return StageDef{}, b.Errorf("", "stage %s: %v", name, err)
		}
		d.Inputs = full
	}
	return d, nil
}

// full is the full name of a checkpoint or stage kind at the step's layer.
func (b *Build) full(kind string) string { return model.CheckpointName(kind, b.Layer) }

// stageDefs collects stage definitions, keeping the first error.
type stageDefs struct {
	b    *Build
	defs []StageDef
	err  error
}

// node adds the definition of a stage output computing graph node kind
// (Build.stageDef).
func (s *stageDefs) node(stage string, out int, name, kind string, inputs, weights []string) {
	if s.err != nil {
		return
	}
	d, err := s.b.stageDef(stage, out, name, kind, inputs, weights)
	s.defs, s.err = append(s.defs, d), err
}

// add adds a definition as it is.
func (s *stageDefs) add(d StageDef) { s.defs = append(s.defs, d) }

// emitUnfused emits op as one op per stage of its kernel, or as it is
// when its kernel has a single stage.
func (b *Build) emitUnfused(op *Op) error {
	e := b.e
	uL, err := kernel.Split(op.L.pros, op.L.main, op.L.epis)
	if err != nil {
		return b.Errorf("", "unfusing kernel %s: %v", op.L.K.Name, err)
	}
	if uL == nil {
		e.ops = append(e.ops, op)
		return nil
	}
	if op.Outputs != nil {
		// partCheckpoints takes Checkpoints[i] as output i.
		return b.Errorf("", "unfusing kernel %s: its checkpoints are not its first outputs (Op.Outputs)", op.L.K.Name)
	}
	var uP *kernel.Unfused
	if op.Prefill != nil {
		if uP, err = kernel.Split(op.Prefill.pros, op.Prefill.main, op.Prefill.epis); err != nil {
			return b.Errorf("", "unfusing kernel %s: %v", op.Prefill.K.Name, err)
		}
		if uP == nil || len(uP.Parts) != len(uL.Parts) {
			return b.Errorf("", "unfusing kernel %s: its prefill form has other stages", op.L.K.Name)
		}
	}
	temps := make([]*Act, len(uL.Temps))
	for i, t := range uL.Temps {
		name := fmt.Sprintf("%%unfused.%s.%d", op.L.op, i)
		a, ok := e.acts[name]
		if !ok || a.Width != t.Width {
			a = &Act{Name: name, Width: t.Width, Elem: kernel.Float}
			e.acts[name] = a
		}
		temps[i] = a
	}
	for i, p := range uL.Parts {
		name := op.L.op + "_" + p.Stage
		if p.Output > 0 {
			name += fmt.Sprint("_", p.Output)
		}
		l, err := b.Kernel(name, p.Pros, p.Main, p.Epis)
		if err != nil {
			return err
		}
		// The parts of the two forms differ in the main only.
		var lp *Loaded
		if uP != nil && p.IsMain {
			pp := uP.Parts[i]
			if lp, err = b.Kernel(name+"_tiled", pp.Pros, pp.Main, pp.Epis); err != nil {
				return err
			}
		}
		cps, err := b.partCheckpoints(op, p, temps)
		if err != nil {
			return err
		}
		part := &Op{L: l, Prefill: lp, Checkpoints: cps, vars: op.vars, Skip: op.Skip, Bind: partBinding(op.Bind, p, l, lp, temps)}
		e.ops = append(e.ops, part)
	}
	return nil
}

// partBinding derives a part's binding from the fused op's: plumbing
// arguments from the part's flows (temporaries or the fused kernel's own
// buffers), every other argument of the part's kernels from the fused
// binding by name.
func partBinding(fused func(*Run) kernel.Binding, p kernel.Part, l, lp *Loaded, temps []*Act) func(*Run) kernel.Binding {
	names := map[string]bool{}
	for _, k := range []*Loaded{l, lp} {
		if k == nil {
			continue
		}
		for _, a := range k.K.Args {
			names[a.Name] = true
		}
	}
	flows := append(slices.Clone(p.Reads), p.Writes...)
	return func(r *Run) kernel.Binding {
		fb := fused(r)
		bd := kernel.Binding{}
		for name := range names {
			if v, ok := fb[name]; ok {
				bd[name] = v
			}
		}
		for _, f := range flows {
			if f.Value.Fused != "" {
				bd[f.Arg] = fb[f.Value.Fused]
			} else {
				bd[f.Arg] = temps[f.Value.Temp].At(0)
			}
		}
		return bd
	}
}

// partCheckpoints returns what a part materializes: a stage checkpoint
// per value it writes (named by the op's StageDef, else
// "<checkpoint>.<stage>"), and, where the value is an output of the fused
// op, that output's own checkpoint. An op without checkpoints has no
// stage checkpoints either.
func (b *Build) partCheckpoints(op *Op, p kernel.Part, temps []*Act) ([]Checkpoint, error) {
	if len(op.Checkpoints) == 0 {
		return nil, nil
	}
	var out []Checkpoint
	for w, f := range p.Writes {
		o := p.Outputs[w]
		var buf *Act
		var final *Checkpoint
		switch {
		case f.Value.Fused == "":
			buf = temps[f.Value.Temp]
		case o >= 0 && o < len(op.Checkpoints):
			final = &op.Checkpoints[o]
			buf = final.Buf
		default:
			continue // an output that is not a checkpoint
		}
		def, ok := stageDefOf(op.Stages, p, o)
		kind := def.Kind
		if !ok {
			kind = op.Checkpoints[ofIndex(op, o)].Kind + "." + p.Stage
			if o >= len(op.Checkpoints) {
				kind += fmt.Sprint("_", o)
			}
		}
		cp := Checkpoint{Kind: kind, Layer: b.Layer, Buf: buf, Stage: true}
		if final != nil {
			cp.Cache = final.Cache
		}
		if err := b.addStage(op, p, o, cp, def, ok); err != nil {
			return nil, err
		}
		out = append(out, cp)
		if final != nil {
			out = append(out, *final)
		}
	}
	return out, nil
}

// ofIndex is the index of the checkpoint output o belongs to: o itself,
// or 0 for a prologue's value and for outputs past the checkpoints (the
// up half of a gate/up pair).
func ofIndex(op *Op, o int) int {
	if o < 0 || o >= len(op.Checkpoints) {
		return 0
	}
	return o
}

// stageDefOf finds the definition of the value of output o a part writes.
func stageDefOf(defs []StageDef, p kernel.Part, o int) (StageDef, bool) {
	for _, d := range defs {
		if d.Stage == p.Stage && (d.Output == o || p.Output < 0 && d.Output < 0) {
			return d, true
		}
	}
	return StageDef{}, false
}

// addStage records stage checkpoint cp as a model.Stage (what the oracle
// evaluates), refusing a name used twice.
func (b *Build) addStage(op *Op, p kernel.Part, o int, cp Checkpoint, def StageDef, known bool) error {
	name := model.CheckpointName(cp.Kind, cp.Layer)
	if b.e.emitted[name] {
		return b.Errorf("", "stage checkpoint %s is materialized twice", name)
	}
	b.e.emitted[name] = true
	of := op.Checkpoints[ofIndex(op, o)]
	st := model.Stage{Name: name, Of: model.CheckpointName(of.Kind, of.Layer), Stage: p.Stage, Layer: cp.Layer,
		Cols: cp.Buf.Width, F32: cp.Buf.Elem == kernel.Float && strings.HasPrefix(cp.Buf.Name, "%unfused.")}
	if _, stage, ok := strings.Cut(cp.Kind, "."); ok {
		st.Stage = stage
	}
	if known {
		st.Op, st.Inputs, st.Weights = def.Op, def.Inputs, def.Weights
	}
	b.e.stages = append(b.e.stages, st)
	return nil
}

// Stages lists the stage checkpoints the executor materializes (none
// unless it runs unfused), every layer's, in execution order
// (model.StagePath).
func (e *Executor) Stages() []model.Stage { return slices.Clone(e.stages) }

// Fault is a test-only defect injected into the kernel that produces a
// checkpoint, so tests can prove the harness localizes faults inside a
// fused kernel (Options.Fault; SetTestFault for paths opened by name).
type Fault struct {
	// Checkpoint is the full name of a checkpoint the faulty op produces
	// ("blk.1.ffn_act").
	Checkpoint string
	// Stage, when set, makes that stage of the op's kernel compute values
	// Rel too large or too small (kernel.Faulty), in the fused kernel and
	// in its unfused parts alike: a defect inside a stage.
	Stage string
	Rel   float32
	// Arg, when set, binds the fused kernel's argument Arg Shift bytes
	// past where it belongs (the unfused parts are bound right): a defect
	// in the composition. Activation buffers get 64 bytes of slack, so the
	// shifted reads stay inside them.
	Arg   string
	Shift int
}

// slack is the extra bytes every activation buffer gets under a
// composition fault.
func (e *Executor) slack() int {
	if e.fault != nil && e.fault.Arg != "" {
		return 64
	}
	return 0
}

// injectFault applies the executor's test fault to op when op produces
// its checkpoint.
func (b *Build) injectFault(op *Op) error {
	f := b.e.fault
	if f == nil {
		return nil
	}
	o := -1
	for i, c := range op.Checkpoints {
		if model.CheckpointName(c.Kind, c.Layer) == f.Checkpoint {
			o = op.output(i)
		}
	}
	for i, kind := range op.FusedAway {
		if kind != "" && model.CheckpointName(kind, b.Layer) == f.Checkpoint {
			o = i
		}
	}
	if o < 0 {
		return nil
	}
	if f.Arg != "" {
		if !slices.ContainsFunc(op.L.K.Args, func(a *kernel.ArgInfo) bool { return a.Name == f.Arg && a.Kind == kernel.ArgBuffer }) {
			return b.Errorf("", "fault: kernel %s has no buffer argument %q", op.L.K.Name, f.Arg)
		}
		op.shift = f
	}
	if f.Stage == "" {
		return nil
	}
	var err error
	if op.L, err = b.faulty(op.L, f, o); err != nil {
		return err
	}
	if op.Prefill != nil {
		op.Prefill, err = b.faulty(op.Prefill, f, o)
	}
	return err
}

// faulty recomposes l with its stage f.Stage made faulty on output o.
func (b *Build) faulty(l *Loaded, f *Fault, o int) (*Loaded, error) {
	pros, main, epis := slices.Clone(l.pros), kernel.Main(kernel.Clone(l.main)), slices.Clone(l.epis)
	found := false
	wrap := func(s kernel.Stage) kernel.Stage {
		found = true
		w, err := kernel.Faulty(kernel.Clone(s), f.Rel, o)
		if err != nil {
			b.err = b.Errorf("", "fault: %v", err)
			return s
		}
		return w
	}
	for i, p := range pros {
		if p.Name() == f.Stage {
			pros[i] = wrap(p).(kernel.Prologue)
		}
	}
	if main.Name() == f.Stage {
		main = wrap(main).(kernel.Main)
	}
	for i, e := range epis {
		if e.Name() == f.Stage {
			epis[i] = wrap(e).(kernel.Epilogue)
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	if !found {
		return nil, b.Errorf("", "fault: kernel %s has no stage %q (stages: %s)", l.K.Name, f.Stage, strings.Join(l.K.Stages, ", "))
	}
	for i, p := range pros {
		pros[i] = kernel.Clone(p)
	}
	for i, e := range epis {
		epis[i] = kernel.Clone(e)
	}
	return b.Kernel(l.op, pros, main, epis)
}

// testFault is the fault of paths opened by name (SetTestFault).
var testFault atomic.Pointer[Fault]

// SetTestFault makes every dsl path opened by name from now on (through
// model.OpenPath, as parity sessions and the CLI open them) carry fault f,
// until the returned function restores the previous setting. For tests
// only; not safe for concurrent use with opening paths.
func SetTestFault(f *Fault) (restore func()) {
	old := testFault.Load()
	testFault.Store(f)
	return func() { testFault.Store(old) }
}
