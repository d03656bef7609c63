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
type Build struct {
	e     *Executor
	step  *Step
	loops map[string]int
	Layer int // value of the innermost loop variable, -1 outside repeats
}

// Errorf returns a SpecError at the path of field (or of the step).
func (b *Build) Errorf(field, format string, a ...any) error {
	p := b.step.Path
	if field != "" {
		p += "." + field
	}
	return specErr(p, format, a...)
}

// Has reports whether an optional field is present.
func (b *Build) Has(field string) bool { _, ok := b.step.Fields[field]; return ok }

func (b *Build) value(field string) any {
	v := b.step.Fields[field]
	if r, ok := v.(varRef); ok {
		if i, ok := b.loops[string(r)]; ok {
			return i
		}
		return b.e.vars[string(r)]
	}
	return v
}

// Int returns an int field.
func (b *Build) Int(field string) int { i, _ := b.value(field).(int); return i }

// Float returns a float field.
func (b *Build) Float(field string) float32 {
	switch v := b.value(field).(type) {
	case float64:
		return float32(v)
	case int:
		return float32(v)
	}
	return 0
}

// String returns a string (or name) field.
func (b *Build) String(field string) string { s, _ := b.value(field).(string); return s }

// Tensor resolves a tensor field to the model's bound weight: the first
// candidate name (with loop variables substituted) the model binds. It
// returns nil for an absent optional field or optional tensor.
func (b *Build) Tensor(field string) (*model.Weight, error) {
	name, ok := b.step.Fields[field].(string)
	if !ok {
		return nil, nil
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

// In returns the activation buffer named by an input field.
func (b *Build) In(field string) *Act { return b.e.acts[b.String(field)] }

// Out declares (or reuses) the activation buffer named by an output field
// with the given row width; f32 forces float32 storage (logits).
func (b *Build) Out(field string, width int, f32 bool) (*Act, error) {
	name := b.String(field)
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

// Cache returns the KV cache named by a field for the current layer.
func (b *Build) Cache(field string, width int) (*Act, error) {
	name := fmt.Sprintf("%s@%d", b.String(field), b.Layer)
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
	l := &Loaded{K: k, B: bk}
	b.e.kernels[sum] = l
	b.e.kernelOrder = append(b.e.kernelOrder, l)
	return l, nil
}

// Round reports whether GEMV inputs are rounded like llama.cpp's (see
// Options.ExactDot); steps pass it to kernel.Gemv.Round.
func (b *Build) Round() bool { return b.e.round }

// Emit appends an op to the program. Its dynamic parameters declared with
// var=NAME are resolved at dispatch from "$pos", "$tokens", the spec's
// int/float variables and the enclosing loop variables; Emit checks now
// that each one will be found with the right kind.
func (b *Build) Emit(op *Op) error {
	op.vars = map[string]backend.Arg{}
	for name, i := range b.loops {
		op.vars["$"+name] = backend.Int(i)
	}
	for _, a := range op.L.K.Args {
		if !a.Dynamic || a.Var == "" || a.Var == "pos" || a.Var == "tokens" {
			continue
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
	b.e.ops = append(b.e.ops, op)
	return nil
}

// Loaded is a composed kernel loaded on the executor's backend.
type Loaded struct {
	K *kernel.Kernel
	B backend.Kernel
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

// Run is the state of one forward call.
type Run struct {
	T, Pos int
}

// Op is one dispatch of the program.
type Op struct {
	L    *Loaded
	Bind func(r *Run) kernel.Binding
	// Checkpoints the dispatch materializes.
	Checkpoints []Checkpoint
	vars        map[string]backend.Arg // loop variables, set by Emit
}

// Checkpoint is a materialized checkpoint: rows of a buffer.
type Checkpoint struct {
	Kind  string
	Layer int
	Buf   *Act
	Cache bool // rows start at the call's position (KV cache)
}
