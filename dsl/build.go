package dsl

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/model"
)

// Build is the context a step's compiler gets: its resolved fields, and
// the executor's buffers and kernels.
//
// The field accessors (Int, Float, String, In, Tensor, Has) only read the
// fields the step declares (StepDef.Fields), with the kind it declares:
// reading any other field is an error naming the step and the field, never
// a silent zero (the ancestor's bug: a misspelled variable became 0).
type Build struct {
	e     *Executor
	step  *Step
	def   *StepDef
	loops map[string]int
	Layer int // value of the innermost loop variable, -1 outside repeats
	err   error
}

// Errorf returns a SpecError at the path of field (or of the step).
func (b *Build) Errorf(field, format string, a ...any) error {
	p := b.step.Path
	if field != "" {
		p += "." + field
	}
	return specErr(p, format, a...)
}

// field returns the declaration of a field the step reads as one of
// kinds, or an error when the step does not declare it (or declares it
// as another kind).
func (b *Build) field(field string, kinds ...FieldKind) (Field, error) {
	for _, f := range b.def.Fields {
		if f.Name != field {
			continue
		}
		for _, k := range kinds {
			if f.Kind == k {
				return f, nil
			}
		}
		return f, b.Errorf(field, "step %s reads its %s field %q as %s", b.step.Op, kindNames[f.Kind], field, kindNames[kinds[0]])
	}
	return Field{}, b.Errorf(field, "step %s reads field %q, which it does not declare", b.step.Op, field)
}

// get returns the value of a declared field of one of kinds, with
// variables resolved; an absent optional field is an error (ask Has
// first).
func (b *Build) get(field string, kinds ...FieldKind) (any, error) {
	if _, err := b.field(field, kinds...); err != nil {
		return nil, err
	}
	v, ok := b.step.Fields[field]
	if !ok {
		return nil, b.Errorf(field, "step %s reads its optional field %q, which the spec does not give", b.step.Op, field)
	}
	if r, ok := v.(varRef); ok {
		if i, ok := b.loops[string(r)]; ok {
			return i, nil
		}
		x, ok := b.e.vars[string(r)]
		if !ok {
			return nil, b.Errorf(field, "undefined variable %q", string(r))
		}
		return x, nil
	}
	return v, nil
}

// declares reports whether the step's definition declares field.
func (b *Build) declares(field string) bool {
	for _, f := range b.def.Fields {
		if f.Name == field {
			return true
		}
	}
	return false
}

// Has reports whether a declared optional field is present. Asking about
// a field the step does not declare fails the compilation of the step
// (dsl.New returns the error even if the step's Build returns nil).
func (b *Build) Has(field string) bool {
	if _, err := b.field(field, FTensor, FBufIn, FBufOut, FCache, FInt, FFloat, FString, FCheckpoint); err != nil {
		if b.err == nil {
			b.err = err
		}
		return false
	}
	_, ok := b.step.Fields[field]
	return ok
}

// Int returns a declared int field.
func (b *Build) Int(field string) (int, error) {
	v, err := b.get(field, FInt)
	if err != nil {
		return 0, err
	}
	i, ok := v.(int)
	if !ok {
		return 0, b.Errorf(field, "want an int, got %T", v)
	}
	return i, nil
}

// Ints returns several declared int fields at once.
func (b *Build) Ints(fields ...string) ([]int, error) {
	out := make([]int, len(fields))
	for i, f := range fields {
		var err error
		if out[i], err = b.Int(f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Float returns a declared float field.
func (b *Build) Float(field string) (float32, error) {
	v, err := b.get(field, FFloat)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float64:
		return float32(x), nil
	case int:
		return float32(x), nil
	}
	return 0, b.Errorf(field, "want a float, got %T", v)
}

// String returns a declared string field, or the name held by a
// declared tensor, buffer, cache or checkpoint field.
func (b *Build) String(field string) (string, error) {
	v, err := b.get(field, FString, FTensor, FBufIn, FBufOut, FCache, FCheckpoint)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", b.Errorf(field, "want a string, got %T", v)
	}
	return s, nil
}

// Tensor resolves a tensor field to the model's bound weight: the first
// candidate name (with loop variables substituted) the model binds. It
// returns nil for an absent optional field or optional tensor.
func (b *Build) Tensor(field string) (*model.Weight, error) {
	f, err := b.field(field, FTensor)
	if err != nil {
		return nil, err
	}
	name, ok := b.step.Fields[field].(string)
	if !ok {
		if f.Optional {
			return nil, nil
		}
		return nil, b.Errorf(field, "missing tensor field")
	}
	d := b.e.spec.Tensors[name]
	var tried []string
	for _, n := range d.Names {
		for v, i := range b.loops {
			n = strings.ReplaceAll(n, "{"+v+"}", fmt.Sprint(i))
		}
		tried = append(tried, n)
		if w, ok := b.e.weights[n]; ok {
			return w, nil
		}
	}
	if d.Optional {
		return nil, nil
	}
	return nil, b.Errorf(field, "tensor %q: none of %v is in the model", name, tried)
}

// In returns the activation buffer named by a declared input field.
func (b *Build) In(field string) (*Act, error) {
	if _, err := b.field(field, FBufIn); err != nil {
		return nil, err
	}
	name, err := b.String(field)
	if err != nil {
		return nil, err
	}
	a, ok := b.e.acts[name]
	if !ok {
		return nil, b.Errorf(field, "no earlier step writes buffer %q", name)
	}
	return a, nil
}

// Out declares (or reuses) the activation buffer named by a declared
// output field with the given row width; f32 forces float32 storage
// (logits).
func (b *Build) Out(field string, width int, f32 bool) (*Act, error) {
	if _, err := b.field(field, FBufOut); err != nil {
		return nil, err
	}
	name, err := b.String(field)
	if err != nil {
		return nil, err
	}
	elem := b.e.act
	if f32 {
		elem = kernel.Float
	}
	if a, ok := b.e.acts[name]; ok {
		if a.Width != width || a.Elem != elem {
			return nil, b.Errorf(field, "buffer %q was %d wide, now %d", name, a.Width, width)
		}
		return a, nil
	}
	a := &Act{Name: name, Width: width, Elem: elem}
	b.e.acts[name] = a
	return a, nil
}

// Cache returns the KV cache named by a declared cache field for the
// current layer.
func (b *Build) Cache(field string, width int) (*Act, error) {
	if _, err := b.field(field, FCache); err != nil {
		return nil, err
	}
	base, err := b.String(field)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s@%d", base, b.Layer)
	if a, ok := b.e.caches[name]; ok {
		if a.Width != width {
			return nil, b.Errorf(field, "cache %q was %d wide, now %d", name, a.Width, width)
		}
		return a, nil
	}
	a := &Act{Name: name, Width: width, Elem: b.e.kv, Rows: b.e.ctx}
	buf, err := b.e.be.Alloc(b.e.ctx * width * elemSize(b.e.kv))
	if err != nil {
		return nil, err
	}
	a.Buf = buf
	b.e.caches[name] = a
	return a, nil
}

// Staged returns the activation buffer (activation storage, one row per
// position of the call) through which a step writes a KV cache stored in
// another dtype: the step writes its output there, the checkpoint is read
// there, and StoreCache copies it into the cache. name must not be a spec
// buffer name ("%" marks the executor's own).
func (b *Build) Staged(name string, width int) *Act {
	name = "%" + name
	if a, ok := b.e.acts[name]; ok && a.Width == width {
		return a
	}
	a := &Act{Name: name, Width: width, Elem: b.e.act}
	b.e.acts[name] = a
	return a
}

// StoreCache emits the copy of src (the call's rows) into the cache rows
// from the call's position, converting to the cache's dtype.
func (b *Build) StoreCache(src, cache *Act) error {
	l, err := b.Kernel("store_cache", nil, &kernel.Copy{N: src.Width, Segs: 1, SrcStride: src.Width, DstStride: cache.Width,
		In: src.Elem, Out: cache.Elem, Offset: true}, nil)
	if err != nil {
		return err
	}
	return b.Emit(&Op{L: l, Bind: func(r *Run) kernel.Binding {
		return kernel.Binding{"x": src.At(0), "y": cache.At(0)}
	}})
}

// Weight returns a backend buffer wrapping w's data (shared per tensor).
func (b *Build) Weight(w *model.Weight) (backend.Buffer, error) {
	if buf, ok := b.e.wbufs[w.Name]; ok {
		return buf, nil
	}
	buf, err := b.e.be.Wrap(w.Data)
	if err != nil {
		return nil, err
	}
	b.e.wbufs[w.Name] = buf
	return buf, nil
}

// Kernel composes and loads a kernel, reusing an identical one.
func (b *Build) Kernel(op string, pros []kernel.Prologue, main kernel.Main, epis []kernel.Epilogue) (*Loaded, error) {
	k, err := kernel.Compose(op, pros, main, epis)
	if err != nil {
		return nil, b.Errorf("", "%v", err)
	}
	var key strings.Builder
	key.WriteString(k.MSL)
	key.WriteString(k.CUDA)
	for _, a := range k.Args {
		fmt.Fprintf(&key, "|%s=%v", a.Name, a.Value)
	}
	h := fnv.New64a()
	h.Write([]byte(key.String()))
	sum := h.Sum64()
	if l, ok := b.e.kernels[sum]; ok {
		return l, nil
	}
	// A unique, deterministic entry name per distinct kernel.
	k, _ = kernel.Compose(fmt.Sprintf("%s_%08x", op, uint32(sum)), pros, main, epis)
	bk, err := b.e.be.Load(k.Spec())
	if err != nil {
		return nil, b.Errorf("", "loading kernel %s: %v", k.Name, err)
	}
	l := &Loaded{K: k, B: bk, op: op, pros: pros, main: main, epis: epis}
	b.e.kernels[sum] = l
	b.e.kernelOrder = append(b.e.kernelOrder, l)
	return l, nil
}

// GemvKernels composes and loads the two forms of a projection step: the
// GEMV kernel (decode) and, unless the inputs are rounded (ggml-cpu), the
// tiled GEMM kernel run for calls of at least PrefillTokens tokens (op
// "<op>_tiled"; nil under ggml-cpu). mk returns fresh stages for each
// form; it sets main.Tiled as asked.
func (b *Build) GemvKernels(op string, mk func(tiled bool) ([]kernel.Prologue, *kernel.Gemv, []kernel.Epilogue)) (gemv, tiled *Loaded, err error) {
	pros, main, epis := mk(false)
	if gemv, err = b.Kernel(op, pros, main, epis); err != nil {
		return nil, nil, err
	}
	if b.Round() {
		return gemv, nil, nil
	}
	pros, main, epis = mk(true)
	main.Tiled = true
	if tiled, err = b.Kernel(op+"_tiled", pros, main, epis); err != nil {
		return nil, nil, err
	}
	return gemv, tiled, nil
}

// Plain reports whether the executor computes under the plain numerics
// profile (RoPE angles from powf; see kernel.Rope.Plain).
func (b *Build) Plain() bool { return b.e.num == backend.Plain }

// Round reports whether GEMV inputs are rounded like llama.cpp's (the
// ggml-cpu profile, see Options); steps pass it to kernel.Gemv.Round.
func (b *Build) Round() bool { return b.e.round }

// Emit appends an op to the program. Its dynamic parameters declared with
// var=NAME are resolved at dispatch from "$tokens", "$vars" (the vars
// buffer holding the call's position, kernel.VarPos), the spec's
// int/float variables and the enclosing loop variables; Emit checks now
// that each one will be found with the right kind. It also checks each
// checkpoint the op materializes against the model's checkpoint graph
// (model.NewGraph): a kind the architecture has, produced inside a repeat
// exactly when the graph says it is per block, as wide as the graph says,
// and at most once per layer.
func (b *Build) Emit(op *Op) error {
	for _, c := range op.Checkpoints {
		if err := b.checkCheckpoint(c); err != nil {
			return err
		}
	}
	op.vars = map[string]backend.Arg{}
	for name, i := range b.loops {
		op.vars["$"+name] = backend.Int(i)
	}
	var args []*kernel.ArgInfo
	for _, l := range []*Loaded{op.L, op.Prefill} {
		if l != nil {
			args = append(args, l.K.Args...)
		}
	}
	for _, a := range args {
		if !a.Dynamic || a.Var == "" || a.Var == "tokens" {
			continue
		}
		if a.Var == "pos" {
			return b.Errorf("", "kernel %s: parameter %s reads the position as a launch argument; positions are read from the vars buffer (kernel.VarPos), so decode steps repeat their launches", op.L.K.Name, a.Name)
		}
		v, ok := op.vars["$"+a.Var]
		if !ok {
			v, ok = b.e.dispatch["$"+a.Var]
		}
		want := backend.ArgInt
		if a.Kind == kernel.ArgFloat {
			want = backend.ArgFloat
		}
		if !ok {
			return b.Errorf("", "kernel %s: parameter %s needs the int or float variable %q, which the spec does not define", op.L.K.Name, a.Name, a.Var)
		}
		if v.Kind != want {
			return b.Errorf("", "kernel %s: parameter %s needs variable %q of the other numeric type", op.L.K.Name, a.Name, a.Var)
		}
	}
	if err := b.injectFault(op); err != nil {
		return err
	}
	if b.e.unfuse {
		return b.emitUnfused(op)
	}
	b.e.ops = append(b.e.ops, op)
	return nil
}

// checkCheckpoint checks one materialized checkpoint against the graph.
func (b *Build) checkCheckpoint(c Checkpoint) error {
	g := b.e.graph
	node, ok := g.Node(c.Kind)
	if !ok {
		return b.Errorf("", "checkpoint %s: a %s model has no such checkpoint (its graph: %s)", c.Kind, g.Config().Arch, strings.Join(g.Kinds(), ", "))
	}
	switch {
	case node.Block && c.Layer < 0:
		return b.Errorf("", "checkpoint %s is produced by every block: emit it inside a repeat", c.Kind)
	case !node.Block && c.Layer >= 0:
		return b.Errorf("", "checkpoint %s is produced once, outside the blocks: emit it outside a repeat", c.Kind)
	case c.Buf == nil:
		return b.Errorf("", "checkpoint %s has no buffer", c.Kind)
	}
	if want := node.Width.Of(g.Config()); c.Buf.Width != want {
		return b.Errorf("", "checkpoint %s is %d wide, the checkpoint graph says %s = %d", c.Kind, c.Buf.Width, node.Width, want)
	}
	name := model.CheckpointName(c.Kind, c.Layer)
	if b.e.emitted[name] {
		return b.Errorf("", "checkpoint %s is materialized twice", name)
	}
	b.e.emitted[name] = true
	return nil
}

// Loaded is a composed kernel loaded on the executor's backend.
type Loaded struct {
	K *kernel.Kernel
	B backend.Kernel
	// The name Build.Kernel was given and the stages K was composed from
	// (Unfuse splits them; a test fault wraps one).
	op   string
	pros []kernel.Prologue
	main kernel.Main
	epis []kernel.Epilogue
}

// Act is an activation buffer (rows × Width, one row per token of the
// forward call) or a KV cache (Rows = context positions).
type Act struct {
	Name  string
	Width int
	Elem  kernel.Type
	Rows  int // capacity in rows
	Buf   backend.Buffer
}

// At is a buffer argument at row r.
func (a *Act) At(r int) backend.Arg { return backend.BufAt(a.Buf, r*a.Width*elemSize(a.Elem)) }

func elemSize(t kernel.Type) int {
	if t == kernel.Half {
		return 2
	}
	return 4
}

// Run is what a step's binding may depend on: the forward call's token
// count. Positions are not in it: kernels read them from the vars buffer
// (kernel.VarPos), so a binding never changes with the position and the
// executor reuses it from one decode step to the next.
type Run struct {
	T int
	// Row0 is the first row of its input an op reads: 0, except for the
	// LM head of a ForwardLast call (Op.LastRow), which runs with T = 1 on
	// row Row0 = the call's last token.
	Row0 int
}

// Op is one dispatch of the program.
type Op struct {
	L *Loaded
	// Prefill, when set, is the kernel run instead of L for calls of at
	// least PrefillTokens tokens (the tiled GEMM form of a projection); it
	// takes the same binding.
	Prefill *Loaded
	Bind    func(r *Run) kernel.Binding
	// Checkpoints the dispatch materializes; Checkpoints[i] is output i
	// of the kernel's main (y0, y1, y2 of a GEMV; y of a copy or of
	// attention).
	Checkpoints []Checkpoint
	// Outputs, when set, says which output of the kernel's main each of
	// Checkpoints is (a kernel whose first outputs are not checkpoints:
	// rmsnorm_qkv_rope's v is output 2); nil means Checkpoints[i] is
	// output i.
	Outputs []int
	// FusedAway[i], when not "", is the kind of the checkpoint output i
	// of the kernel's main computes without materializing it
	// (rmsnorm_qkv_rope's q and k, rotated before they are stored): a
	// test fault (Fault) on that checkpoint goes into this op.
	FusedAway []string
	// Stages says what each stage of L computes in terms of the
	// checkpoint graph, for Unfuse (StageDef); a stage without a
	// definition is materialized but cannot be judged by an oracle.
	Stages []StageDef
	// Skip, when set, says a call needs no dispatch of this op (its work
	// is fused into an earlier op's kernel for such calls): it is not
	// dispatched, and its checkpoints are still taken at its place.
	Skip func(r Run) bool
	// LastRow says the binding honours Run.Row0 (reads its input from row
	// Row0 and writes its output at row 0): the op producing the logits
	// may then run on the last token alone in a ForwardLast call. An op
	// without it (a user step binding row 0) makes ForwardLast compute
	// every row, as Forward does.
	LastRow bool
	vars    map[string]backend.Arg // loop variables, set by Emit
	// shift is a test composition fault (Fault.Arg) bound into this op.
	shift *Fault
}

// output is the output of the kernel's main that Checkpoints[i] is.
func (op *Op) output(i int) int {
	if op.Outputs != nil {
		return op.Outputs[i]
	}
	return i
}

// Checkpoint is a materialized checkpoint: rows of a buffer.
type Checkpoint struct {
	Kind  string
	Layer int
	Buf   *Act
	Cache bool // rows start at the call's position (KV cache)
	// Stage marks a stage checkpoint of an unfused kernel: Kind is then
	// "<checkpoint kind>.<stage>" (model.Stage).
	Stage bool
}
