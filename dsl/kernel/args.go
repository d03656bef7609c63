package kernel

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/metallic-go/metallic/backend"
)

// ArgKind is the kind of a kernel argument.
type ArgKind int

// Argument kinds.
const (
	ArgBuffer ArgKind = iota
	ArgInt
	ArgFloat
)

// Buf is a buffer argument handle. A stage sets Elem (the storage type:
// Float or Half activations, Uchar weight bytes, Int token ids) before
// Compose; Compose fills the rest.
type Buf struct {
	Elem  Type
	Omit  bool // leave this argument out of the kernel
	Index int  // argument index, assigned by Compose
	v     *Var
}

// V is the buffer's variable in generated code.
func (b *Buf) V() *Var { return b.v }

// IntParam is an integer parameter handle. Value is used at dispatch unless the
// field is tagged dynamic, in which case Kernel.Bind must supply it.
type IntParam struct {
	Value int
	Omit  bool
	Index int
	v     *Var
}

// E reads the parameter in generated code.
func (p *IntParam) E() Expr { return p.v.E() }

// FloatParam is a float32 parameter handle; see IntParam.
type FloatParam struct {
	Value float32
	Omit  bool
	Index int
	v     *Var
}

// E reads the parameter in generated code.
func (p *FloatParam) E() Expr { return p.v.E() }

// ArgInfo is one row of a kernel's argument table.
type ArgInfo struct {
	Name    string // binding name, shared by stages that declare it
	Kind    ArgKind
	Index   int  // position in the argument list and GPU binding slot
	Output  bool // written by the kernel
	Dynamic bool // scalar supplied by Bind rather than fixed at Compose
	Elem    Type // buffer element type
	Stage   string
	Value   float64 // fixed value of a non-dynamic scalar
	Param   string  // member name inside the stage's parameter struct
	Var     string  // dispatch variable a dynamic scalar defaults to ("pos", "tokens")
}

type tag struct {
	kind    string // buffer, param, skip
	name    string
	output  bool
	dynamic bool
	index   int // -1: automatic
	v       string
}

func parseTag(field reflect.StructField) (tag, error) {
	t := tag{index: -1, name: snake(field.Name)}
	raw, ok := field.Tag.Lookup("dsl")
	if !ok {
		return t, fmt.Errorf("field %s has no dsl tag", field.Name)
	}
	for i, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		switch {
		case i == 0:
			t.kind = part
			if part != "buffer" && part != "param" && part != "skip" {
				return t, fmt.Errorf("field %s: tag kind %q (want buffer, param or skip)", field.Name, part)
			}
		case part == "output":
			t.output = true
		case part == "dynamic":
			t.dynamic = true
		case strings.HasPrefix(part, "var="):
			t.v = part[4:]
		case strings.HasPrefix(part, "name="):
			t.name = part[5:]
		case strings.HasPrefix(part, "index="):
			n, err := strconv.Atoi(part[6:])
			if err != nil || n < 0 {
				return t, fmt.Errorf("field %s: bad index %q", field.Name, part)
			}
			t.index = n
		default:
			return t, fmt.Errorf("field %s: unknown tag option %q", field.Name, part)
		}
	}
	return t, nil
}

func snake(s string) string {
	var out []rune
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 && !unicode.IsUpper(rune(s[i-1])) {
				out = append(out, '_')
			}
			r = unicode.ToLower(r)
		}
		out = append(out, r)
	}
	return string(out)
}

// argTable collects the arguments of all stages.
type argTable struct {
	args   []*ArgInfo
	byName map[string]*ArgInfo
	taken  map[int]string
	// handles to fill once indices are final
	bufs   map[*Buf]*ArgInfo
	ints   map[*IntParam]*ArgInfo
	floats map[*FloatParam]*ArgInfo
	params map[string][]*ArgInfo // stage -> its params in order
	order  []string              // stages with params
}

func newArgTable() *argTable {
	return &argTable{byName: map[string]*ArgInfo{}, taken: map[int]string{},
		bufs: map[*Buf]*ArgInfo{}, ints: map[*IntParam]*ArgInfo{}, floats: map[*FloatParam]*ArgInfo{},
		params: map[string][]*ArgInfo{}}
}

// add reflects over a stage's argument struct (a pointer to struct).
func (t *argTable) add(stage string, args any) error {
	if args == nil {
		return nil
	}
	rv := reflect.ValueOf(args)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("stage %s: Args must return a pointer to a struct, got %T", stage, args)
	}
	rv = rv.Elem()
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		tg, err := parseTag(f)
		if err != nil {
			return fmt.Errorf("stage %s: %w", stage, err)
		}
		if tg.kind == "skip" {
			continue
		}
		info := &ArgInfo{Name: tg.name, Output: tg.output, Dynamic: tg.dynamic, Stage: stage, Var: tg.v}
		fv := rv.Field(i).Addr().Interface()
		if omitted(fv) {
			continue
		}
		switch h := fv.(type) {
		case *Buf:
			if tg.kind != "buffer" {
				return fmt.Errorf("stage %s: field %s is a Buf but tagged %q", stage, f.Name, tg.kind)
			}
			info.Kind, info.Elem = ArgBuffer, h.Elem
			if h.Elem == (Type{}) {
				return fmt.Errorf("stage %s: buffer %s has no element type", stage, f.Name)
			}
			info = t.merge(info, tg.index)
			if info == nil {
				return fmt.Errorf("stage %s: argument %q declared twice with different kinds or types", stage, tg.name)
			}
			t.bufs[h] = info
		case *IntParam, *FloatParam:
			if tg.kind != "param" {
				return fmt.Errorf("stage %s: field %s is a parameter but tagged %q", stage, f.Name, tg.kind)
			}
			info.Param = tg.name
			if h, ok := h.(*IntParam); ok {
				info.Kind, info.Elem, info.Value = ArgInt, Int, float64(h.Value)
			} else {
				info.Kind, info.Elem, info.Value = ArgFloat, Float, float64(fv.(*FloatParam).Value)
			}
			info.Name = stage + "." + tg.name
			if _, dup := t.byName[info.Name]; dup {
				return fmt.Errorf("stage %s: parameter %q declared twice", stage, tg.name)
			}
			info = t.merge(info, tg.index)
			if h, ok := h.(*IntParam); ok {
				t.ints[h] = info
			} else {
				t.floats[fv.(*FloatParam)] = info
			}
			if len(t.params[stage]) == 0 {
				t.order = append(t.order, stage)
			}
			t.params[stage] = append(t.params[stage], info)
		default:
			return fmt.Errorf("stage %s: field %s has type %s (want kernel.Buf, kernel.IntParam or kernel.FloatParam)", stage, f.Name, f.Type)
		}
		if tg.index >= 0 {
			if other, ok := t.taken[tg.index]; ok && other != info.Name {
				return fmt.Errorf("stage %s: argument %q index %d collides with %q", stage, info.Name, tg.index, other)
			}
			t.taken[tg.index] = info.Name
			info.Index = tg.index
		}
	}
	return nil
}

// merge returns the table's entry for info's name, adding it when new; nil
// when an entry of that name has another kind or element type.
func (t *argTable) merge(info *ArgInfo, index int) *ArgInfo {
	if old, ok := t.byName[info.Name]; ok {
		if old.Kind != info.Kind || old.Elem != info.Elem {
			return nil
		}
		old.Output = old.Output || info.Output
		return old
	}
	info.Index = -1
	t.byName[info.Name] = info
	t.args = append(t.args, info)
	return info
}

// assign gives every automatic argument the lowest free index, in
// declaration order.
func (t *argTable) assign() {
	next := 0
	for _, a := range t.args {
		if a.Index >= 0 {
			continue
		}
		for {
			if _, ok := t.taken[next]; !ok {
				break
			}
			next++
		}
		a.Index = next
		t.taken[next] = a.Name
	}
}

// Binding maps argument names to values for Kernel.Bind: buffers
// (backend.Buf/BufAt) and dynamic scalars (backend.Int/Float). Keys
// starting with "$" are dispatch variables ("$pos", "$tokens"): a dynamic
// scalar declared with var=NAME that is not bound by name takes "$NAME".
// Unused variables are ignored.
type Binding map[string]backend.Arg

// Bind orders b by the argument table and appends the fixed parameters.
// Every buffer and dynamic scalar must be bound, and nothing else.
func (k *Kernel) Bind(b Binding) ([]backend.Arg, error) {
	out := make([]backend.Arg, len(k.Args))
	used := 0
	for _, a := range k.Args {
		if a.Kind != ArgBuffer && !a.Dynamic {
			if a.Kind == ArgInt {
				out[a.Index] = backend.Int(int(a.Value))
			} else {
				out[a.Index] = backend.Float(float32(a.Value))
			}
			continue
		}
		v, ok := b[a.Name]
		if ok {
			used++
		} else if v, ok = b["$"+a.Var]; !ok || a.Var == "" {
			return nil, fmt.Errorf("kernel %s: argument %q is not bound", k.Name, a.Name)
		}
		want := backend.ArgBuffer
		switch a.Kind {
		case ArgInt:
			want = backend.ArgInt
		case ArgFloat:
			want = backend.ArgFloat
		}
		if v.Kind != want {
			return nil, fmt.Errorf("kernel %s: argument %q bound to the wrong kind", k.Name, a.Name)
		}
		out[a.Index] = v
	}
	named := 0
	for name := range b {
		if !strings.HasPrefix(name, "$") {
			named++
		}
	}
	if used != named {
		for name := range b {
			if _, ok := k.argByName[name]; !ok && !strings.HasPrefix(name, "$") {
				return nil, fmt.Errorf("kernel %s: no argument named %q", k.Name, name)
			}
		}
		return nil, fmt.Errorf("kernel %s: a fixed parameter was bound", k.Name)
	}
	return out, nil
}

func omitted(h any) bool {
	switch h := h.(type) {
	case *Buf:
		return h.Omit
	case *IntParam:
		return h.Omit
	case *FloatParam:
		return h.Omit
	}
	return false
}
