package kernel

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/metallic-go/metallic/backend"
)

// Stage is a piece of a kernel. Args returns a pointer to the stage's
// argument struct (or nil); Includes lists helper sources it needs.
type Stage interface {
	Name() string
	Args() any
	Includes() []Include
}

// Loader yields the float value of input element k.
type Loader func(k Expr) Expr

// Prologue transforms the main stage's input vector.
type Prologue interface {
	Stage
	// Setup emits code before the main loop (such as a reduction over the
	// input through load) and returns the transformed loader.
	Setup(c *Ctx, load Loader) Loader
	// CPU transforms f.In in place (or fills it, for a gather).
	CPU(f *Frame)
}

// RowStats is a prologue whose transform of element k needs one statistic
// of the whole input row (RMSNorm: the sum of squares). Mains that stage
// the inputs of many rows at once (the tiled GEMM) compute the statistic
// of each row with one SIMD group and apply the transform while staging;
// they accept only prologues that implement it.
type RowStats interface {
	Prologue
	// Term is the contribution of input value v to the row's sum.
	Term(v Expr) Expr
	// Finish turns the sum over a row of n values into the statistic.
	Finish(c *Ctx, sum, n Expr) Expr
	// Transform returns element k, loaded as v, given the statistic st.
	Transform(c *Ctx, k, v, st Expr) Expr
}

// Main is a kernel's main body.
type Main interface {
	Stage
	// Emit emits the body; it calls c.Input for input elements and c.Out
	// for each value it stores.
	Emit(c *Ctx)
	// CPUItem computes work item f.X, f.Y: it calls pro once the input
	// row is loaded, fills f.Out and calls epi before storing it.
	CPUItem(f *Frame, pro, epi func())
	// Preset is the dispatch shape.
	Preset() Preset
	// GridX is the number of work items along x; y counts tokens.
	GridX() int
}

// Epilogue transforms each output value before the store.
type Epilogue interface {
	Stage
	// Apply returns the transformed value v of output o, column col.
	Apply(c *Ctx, o int, col, v Expr) Expr
	// CPU transforms f.Out in place.
	CPU(f *Frame)
}

// RowEpilogue is an epilogue that needs statistics of the whole row
// (softmax, reduce); only mains that own whole rows accept it.
type RowEpilogue interface {
	Epilogue
	// RowSetup emits the row statistics over n values given by load.
	RowSetup(c *Ctx, n Expr, load Loader)
	// Collapse reports whether the row reduces to one output value.
	Collapse() bool
}

// Include is a named helper source in both dialects. Includes of the same
// name are emitted once; they are ordered by name.
type Include struct{ Name, MSL, CUDA string }

// Ctx is the composition context handed to stages while emitting code.
type Ctx struct {
	B     *Builder
	Aux   Expr  // second accumulator of paired mains (gate/up)
	Row   Expr  // token row of the work item, set by the main
	InLen Expr  // length of the input vector, set by the main
	OutW  []int // row width of each output, set by the main
	pros  []Prologue
	epis  []Epilogue
	in    Loader
}

// Prologues runs the prologues' setup over the base loader and returns the
// fused input loader.
func (c *Ctx) Prologues(base Loader) Loader {
	load := base
	for _, p := range c.pros {
		load = p.Setup(c, load)
	}
	c.in = load
	return load
}

// Out applies the epilogues to value v of output o, column col.
func (c *Ctx) Out(o int, col, v Expr) Expr {
	for _, e := range c.epis {
		v = e.Apply(c, o, col, v)
	}
	return v
}

// RowEpilogues returns the epilogues needing whole rows.
func (c *Ctx) RowEpilogues() []RowEpilogue {
	var r []RowEpilogue
	for _, e := range c.epis {
		if re, ok := e.(RowEpilogue); ok {
			r = append(r, re)
		}
	}
	return r
}

// Preset is a dispatch shape: a work item covers PerItem rows (or
// elements) with Threads GPU threads.
type Preset struct {
	Name    string
	Threads int
	PerItem int
}

// PerElement is one element per GPU thread; a work item is Threads elements.
func PerElement() Preset { return Preset{Name: "per_element", Threads: 128, PerItem: 128} }

// PerRow is one row per work item, Threads threads per row.
func PerRow() Preset { return Preset{Name: "per_row", Threads: 128, PerItem: 1} }

// PerRowSIMD is one row per work item computed by one SIMD group.
func PerRowSIMD() Preset { return Preset{Name: "per_row_simd", Threads: 32, PerItem: 1} }

// Grid returns the grid covering n rows or elements (x) for m tokens (y).
func (p Preset) Grid(n, m int) backend.Grid {
	return backend.Grid{X: (n + p.PerItem - 1) / p.PerItem, Y: m}
}

// Kernel is a composed kernel.
type Kernel struct {
	Name    string
	MSL     string
	CUDA    string
	Entry   string
	Args    []*ArgInfo // by index
	Structs map[Dialect]string
	Preset  Preset
	GridX   int // work items along x; Grid(tokens) gives the full grid
	CPU     backend.CPUFunc
	// Threadgroup is the static threadgroup (shared) memory the GPU
	// sources declare, in bytes (the larger of the two dialects).
	Threadgroup int
	// Stages names the composed stages in order.
	Stages    []string
	gridY     func(rows int) int
	argByName map[string]*ArgInfo
}

// Spec returns the backend spec that loads k.
func (k *Kernel) Spec() backend.KernelSpec {
	return backend.KernelSpec{Name: k.Name, MSL: k.MSL, CUDA: k.CUDA, Entry: k.Entry,
		Threads: k.Preset.Threads, CPU: k.CPU, Grain: 1}
}

// Grid is the dispatch grid for rows tokens: y counts tokens, or token
// blocks for mains that implement GridY.
func (k *Kernel) Grid(rows int) backend.Grid {
	y := rows
	if k.gridY != nil {
		y = k.gridY(rows)
	}
	return backend.Grid{X: k.GridX, Y: y}
}

// Compose builds one kernel from prologues, a main and epilogues.
func Compose(name string, pros []Prologue, main Main, epis []Epilogue) (*Kernel, error) {
	if main == nil {
		return nil, fmt.Errorf("kernel %s: no main stage", name)
	}
	if !isIdent(name) {
		return nil, fmt.Errorf("kernel %s: name is not an identifier", name)
	}
	if ch, ok := main.(interface{ Check() error }); ok {
		if err := ch.Check(); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", name, err)
		}
	}
	for i, e := range epis {
		if _, ok := e.(RowEpilogue); ok {
			if _, whole := main.(*Copy); !whole || i != 0 {
				return nil, fmt.Errorf("kernel %s: epilogue %s needs whole rows: it must come first after a copy main", name, e.Name())
			}
		}
	}
	t := newArgTable()
	var stages []Stage
	for _, p := range pros {
		stages = append(stages, p)
	}
	stages = append(stages, main)
	for _, e := range epis {
		stages = append(stages, e)
	}
	var names []string
	seen := map[string]bool{}
	for _, s := range stages {
		if seen[s.Name()] {
			return nil, fmt.Errorf("kernel %s: stage name %q used twice", name, s.Name())
		}
		seen[s.Name()] = true
		names = append(names, s.Name())
		if err := t.add(s.Name(), s.Args()); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", name, err)
		}
	}
	t.assign()
	args := make([]*ArgInfo, len(t.args))
	for _, a := range t.args {
		if a.Index >= len(args) || args[a.Index] != nil {
			return nil, fmt.Errorf("kernel %s: argument %q index %d leaves a gap or collides", name, a.Name, a.Index)
		}
		args[a.Index] = a
	}
	for h, a := range t.bufs {
		h.Index = a.Index
	}
	for h, a := range t.ints {
		h.Index = a.Index
	}
	for h, a := range t.floats {
		h.Index = a.Index
	}
	incs, err := includes(stages)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", name, err)
	}
	k := &Kernel{Name: name, Entry: name, Args: args, Preset: main.Preset(), GridX: main.GridX(), Stages: names,
		Structs: map[Dialect]string{}, argByName: t.byName}
	for _, d := range []Dialect{MSL, CUDA} {
		src, structs, shared, err := emit(d, k, t, incs, pros, main, epis)
		if err != nil {
			return nil, fmt.Errorf("kernel %s (%s): %w", name, d, err)
		}
		if d == MSL {
			k.MSL = src
		} else {
			k.CUDA = src
		}
		k.Structs[d] = structs
		k.Threadgroup = max(k.Threadgroup, shared)
	}
	if gy, ok := main.(interface{ GridY(int) int }); ok {
		k.gridY = gy.GridY
	}
	k.CPU = cpuFunc(k, pros, main, epis)
	return k, nil
}

func includes(stages []Stage) ([]Include, error) {
	byName := map[string]Include{}
	for _, s := range stages {
		for _, inc := range s.Includes() {
			if old, ok := byName[inc.Name]; ok && old != inc {
				return nil, fmt.Errorf("include %q defined twice with different sources", inc.Name)
			}
			for _, src := range []string{inc.MSL, inc.CUDA} {
				if err := balanced(src); err != nil {
					return nil, fmt.Errorf("include %q: %w", inc.Name, err)
				}
			}
			byName[inc.Name] = inc
		}
	}
	out := make([]Include, 0, len(byName))
	for _, inc := range byName {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// balanced checks that (), [] and {} nest, ignoring comments.
func balanced(src string) error {
	var stack []byte
	line := 1
	pair := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			line++
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return fmt.Errorf("unbalanced %q at line %d", c, line)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unbalanced braces: %q left open", string(stack))
	}
	return nil
}

func emit(d Dialect, k *Kernel, t *argTable, incs []Include, pros []Prologue, main Main, epis []Epilogue) (string, string, int, error) {
	b := newBuilder(d, main.Preset().Threads)
	// Argument variables.
	var params []string
	for _, a := range k.Args {
		v := &Var{b: b, name: "a_" + cIdent(a.Name), live: true}
		b.open = append(b.open, v)
		switch a.Kind {
		case ArgBuffer:
			v.typ = a.Elem
			qual := "const "
			if a.Output {
				qual = ""
			}
			if d == MSL {
				params = append(params, fmt.Sprintf("device %s%s* %s [[buffer(%d)]]", qual, a.Elem.In(d), v.name, a.Index))
			} else {
				params = append(params, fmt.Sprintf("%s%s* __restrict__ %s", qual, a.Elem.In(d), v.name))
			}
		default:
			v.typ = a.Elem
			if d == MSL {
				params = append(params, fmt.Sprintf("constant %s& %s [[buffer(%d)]]", a.Elem.In(d), v.name, a.Index))
			} else {
				params = append(params, fmt.Sprintf("%s %s", a.Elem.In(d), v.name))
			}
		}
		for h, info := range t.bufs {
			if info == a {
				h.v = v
			}
		}
		for h, info := range t.ints {
			if info == a {
				h.v = &Var{b: b, name: "p_" + cIdent(a.Stage) + "." + a.Param, typ: Int, live: true}
				b.open = append(b.open, h.v)
			}
		}
		for h, info := range t.floats {
			if info == a {
				h.v = &Var{b: b, name: "p_" + cIdent(a.Stage) + "." + a.Param, typ: Float, live: true}
				b.open = append(b.open, h.v)
			}
		}
	}
	// Parameter structs, generated from the stages' param fields.
	var structs strings.Builder
	for _, st := range t.order {
		fmt.Fprintf(&structs, "struct %s_params {\n", cIdent(st))
		for _, a := range t.params[st] {
			fmt.Fprintf(&structs, "    %s %s;\n", a.Elem.In(d), a.Param)
		}
		structs.WriteString("};\n")
	}
	for _, st := range t.order {
		var vals []string
		for _, a := range t.params[st] {
			vals = append(vals, "a_"+cIdent(a.Name))
		}
		b.line(fmt.Sprintf("%s_params p_%s = {%s};", cIdent(st), cIdent(st), strings.Join(vals, ", ")))
	}
	c := &Ctx{B: b, pros: pros, epis: epis}
	main.Emit(c)
	if len(b.errs) > 0 {
		return "", "", 0, errors.Join(b.errs...)
	}
	var src strings.Builder
	src.WriteString(prelude[d])
	for _, inc := range incs {
		if d == MSL {
			src.WriteString(inc.MSL)
		} else {
			src.WriteString(inc.CUDA)
		}
		src.WriteString("\n")
	}
	src.WriteString(structs.String())
	if d == MSL {
		params = append(params, "uint3 tg3 [[threadgroup_position_in_grid]]", "uint tid [[thread_index_in_threadgroup]]")
		fmt.Fprintf(&src, "kernel void %s(\n    %s) {\n    uint gx = tg3.x;\n    uint gy = tg3.y;\n", k.Entry, strings.Join(params, ",\n    "))
	} else {
		fmt.Fprintf(&src, "extern \"C\" __global__ void %s(\n    %s) {\n%s    unsigned int tid = threadIdx.x;\n    unsigned int gx = blockIdx.x;\n    unsigned int gy = blockIdx.y;\n", k.Entry, strings.Join(params, ",\n    "), pdlPrologue)
	}
	for _, l := range b.top {
		src.WriteString("    " + l + "\n")
	}
	src.WriteString(b.sb.String())
	src.WriteString("}\n")
	out := src.String()
	if err := balanced(out); err != nil {
		return "", "", 0, err
	}
	return out, structs.String(), b.shared, nil
}

func cIdent(s string) string {
	return strings.NewReplacer(".", "_", "-", "_").Replace(s)
}

// pdlPrologue opens every CUDA kernel: on sm_90 and later it waits for
// the grids this one depends on (a no-op unless the launch allowed
// programmatic dependent launch, when the kernel may start while the one
// before it finishes: the cuda backend's METALLIC_CUDA_PDL=1), then lets
// the next grid launch. Nothing is read or written before the wait, so a
// kernel sees exactly what a plain launch would.
const pdlPrologue = `#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
`
