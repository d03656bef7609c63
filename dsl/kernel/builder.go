package kernel

import (
	"fmt"
	"strings"
)

// Dialect is a GPU source language.
type Dialect int

const (
	// MSL is the Metal Shading Language.
	MSL Dialect = iota
	// CUDA is CUDA C++.
	CUDA
)

// String returns "msl" or "cuda".
func (d Dialect) String() string {
	if d == CUDA {
		return "cuda"
	}
	return "msl"
}

// Type is a scalar type of generated code.
type Type struct{ msl, cuda string }

// Scalar types of generated code.
var (
	Float = Type{"float", "float"}
	Half  = Type{"half", "__half"}
	Int   = Type{"int", "int"}
	Uint  = Type{"uint", "unsigned int"}
	Uchar = Type{"uchar", "unsigned char"}
	Bool  = Type{"bool", "bool"}
)

// In returns the type's spelling in dialect d.
func (t Type) In(d Dialect) string {
	if d == CUDA {
		return t.cuda
	}
	return t.msl
}

// Var is a variable of generated code. Its name is chosen by the Builder
// and unique in the kernel: stages refer to variables by Go value, never
// by spelling.
type Var struct {
	b     *Builder
	name  string
	typ   Type
	scope int // depth at which it was declared; -1 once out of scope
	live  bool
}

// E returns an expression reading v.
func (v *Var) E() Expr { return Expr{text: v.name, refs: []*Var{v}} }

// Expr is an expression of generated code together with the variables it
// reads, so the Builder can check they are defined where it is used.
type Expr struct {
	text string
	refs []*Var
}

// String returns the expression text.
func (e Expr) String() string { return e.text }

// F formats an expression: each %s verb takes an Expr, other verbs take
// plain values (ints, floats). The result reads every variable its Expr
// arguments read.
func F(format string, args ...any) Expr {
	var refs []*Var
	vals := make([]any, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case Expr:
			refs = append(refs, x.refs...)
			vals[i] = x.text
		case *Var:
			refs = append(refs, x)
			vals[i] = x.name
		default:
			vals[i] = a
		}
	}
	return Expr{text: fmt.Sprintf(format, vals...), refs: refs}
}

// I is an integer literal.
func I(v int) Expr { return Expr{text: fmt.Sprint(v)} }

// Lit is a float literal.
func Lit(v float32) Expr {
	s := fmt.Sprintf("%g", v)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return Expr{text: s + "f"}
}

// Fn is a math function spelled per dialect.
type Fn struct{ msl, cuda string }

// Math functions of generated code.
var (
	Exp   = Fn{"exp", "expf"}
	Rsqrt = Fn{"rsqrt", "rsqrtf"}
	Tanh  = Fn{"tanh", "tanhf"}
	Cos   = Fn{"cos", "cosf"}
	Sin   = Fn{"sin", "sinf"}
	Pow   = Fn{"pow", "powf"}
	Max   = Fn{"max", "fmaxf"}
	Min   = Fn{"min", "fminf"}
	Abs   = Fn{"fabs", "fabsf"}
)

// Op is a reduction operator.
type Op int

// Reduction operators.
const (
	OpAdd Op = iota
	OpMax
	OpMin
)

// Builder emits the code of one kernel in one dialect. Every variable is
// declared through it; using a variable outside the block that declared
// it, or one declared by another Builder, is recorded as an error that
// Compose returns.
type Builder struct {
	D       Dialect
	Threads int // threads per threadgroup
	sb      strings.Builder
	depth   int
	next    int
	errs    []error
	open    []*Var // variables in scope, innermost last
	tid     *Var
	gx, gy  *Var
	top     []string // threadgroup declarations, hoisted to kernel scope
	shared  int      // bytes of threadgroup memory declared
	part    *Var     // shared partials of BlockReduce, reused
}

// size is the size in bytes of a value of type t in threadgroup memory.
func (t Type) size() int {
	switch t {
	case Half:
		return 2
	case Uchar, Bool:
		return 1
	case F4, U32x4:
		return 16
	}
	return 4
}

func newBuilder(d Dialect, threads int) *Builder {
	b := &Builder{D: d, Threads: threads}
	b.tid = &Var{b: b, name: "tid", typ: Uint, live: true}
	b.gx = &Var{b: b, name: "gx", typ: Uint, live: true}
	b.gy = &Var{b: b, name: "gy", typ: Uint, live: true}
	b.open = append(b.open, b.tid, b.gx, b.gy)
	return b
}

// Tid is the thread index within the threadgroup.
func (b *Builder) Tid() Expr { return F("int(%s)", b.tid) }

// GroupX is the work item's x index (threadgroup position).
func (b *Builder) GroupX() Expr { return F("int(%s)", b.gx) }

// GroupY is the work item's y index (threadgroup position).
func (b *Builder) GroupY() Expr { return F("int(%s)", b.gy) }

// Call applies fn to args.
func (b *Builder) Call(fn Fn, args ...Expr) Expr {
	name := fn.msl
	if b.D == CUDA {
		name = fn.cuda
	}
	parts := make([]string, len(args))
	var refs []*Var
	for i, a := range args {
		parts[i] = a.text
		refs = append(refs, a.refs...)
	}
	return Expr{text: name + "(" + strings.Join(parts, ", ") + ")", refs: refs}
}

func (b *Builder) check(e Expr) {
	for _, v := range e.refs {
		if v.b != b || !v.live {
			b.errs = append(b.errs, fmt.Errorf("undefined variable %s", v.name))
		}
	}
}

func (b *Builder) line(s string) {
	b.sb.WriteString(strings.Repeat("    ", b.depth+1))
	b.sb.WriteString(s)
	b.sb.WriteByte('\n')
}

func (b *Builder) fresh(hint string, t Type) *Var {
	b.next++
	v := &Var{b: b, name: fmt.Sprintf("%s_%d", hint, b.next), typ: t, scope: b.depth, live: true}
	b.open = append(b.open, v)
	return v
}

// Let declares a variable of type t initialised to init and returns it.
func (b *Builder) Let(t Type, hint string, init Expr) *Var {
	b.check(init)
	v := b.fresh(hint, t)
	b.line(fmt.Sprintf("%s %s = %s;", t.In(b.D), v.name, init.text))
	return v
}

// Set assigns e to v.
func (b *Builder) Set(v *Var, e Expr) {
	b.check(v.E())
	b.check(e)
	b.line(v.name + " = " + e.text + ";")
}

// Stmt emits an expression statement (a store, a call).
func (b *Builder) Stmt(e Expr) {
	b.check(e)
	b.line(e.text + ";")
}

// Shared declares threadgroup memory of n elements of type t. The
// declaration is hoisted to kernel scope, as Metal requires; the variable
// stays usable everywhere in the kernel.
func (b *Builder) Shared(t Type, hint string, n int) *Var {
	b.next++
	v := &Var{b: b, name: fmt.Sprintf("%s_%d", hint, b.next), typ: t, live: true}
	q := "threadgroup"
	if b.D == CUDA {
		q = "__shared__"
	}
	b.top = append(b.top, fmt.Sprintf("%s %s %s[%d];", q, t.In(b.D), v.name, n))
	b.shared += n * t.size()
	return v
}

// Barrier synchronizes the threadgroup and its threadgroup memory.
func (b *Builder) Barrier() {
	if b.D == CUDA {
		b.line("__syncthreads();")
	} else {
		b.line("threadgroup_barrier(mem_flags::mem_threadgroup);")
	}
}

func (b *Builder) block(header string, body func()) {
	b.line(header + " {")
	b.depth++
	mark := len(b.open)
	body()
	for _, v := range b.open[mark:] {
		v.live = false
	}
	b.open = b.open[:mark]
	b.depth--
	b.line("}")
}

// For emits for (int i = from; i < to; i += step) { body(i) }.
func (b *Builder) For(hint string, from, to, step Expr, body func(i Expr)) {
	b.check(from)
	b.check(to)
	b.check(step)
	mark := len(b.open)
	v := b.fresh(hint, Int)
	b.open = b.open[:mark] // declared inside the block below
	b.block(fmt.Sprintf("for (int %s = %s; %s < %s; %s += %s)", v.name, from.text, v.name, to.text, v.name, step.text), func() {
		b.open = append(b.open, v)
		body(v.E())
	})
	v.live = false
}

// Unroll asks the compiler to unroll the loop that follows (a loop with
// a constant trip count).
func (b *Builder) Unroll() { b.line("#pragma unroll") }

// If emits if (cond) { then }.
func (b *Builder) If(cond Expr, then func()) {
	b.check(cond)
	b.block("if ("+cond.text+")", then)
}

// Tmpl emits a code template whose {name} placeholders are replaced by the
// bound expressions. A placeholder without a binding is an undefined
// variable error.
func (b *Builder) Tmpl(src string, binds map[string]Expr) {
	var out strings.Builder
	for {
		i := strings.IndexByte(src, '{')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(src[i:], '}')
		}
		// Only identifiers inside braces are placeholders; code braces pass.
		if i < 0 || j < 0 || !isIdent(src[i+1:i+j]) {
			if i < 0 || j < 0 {
				out.WriteString(src)
				break
			}
			out.WriteString(src[:i+1])
			src = src[i+1:]
			continue
		}
		name := src[i+1 : i+j]
		e, ok := binds[name]
		if !ok {
			b.errs = append(b.errs, fmt.Errorf("undefined variable {%s} in template", name))
		}
		b.check(e)
		out.WriteString(src[:i])
		out.WriteString(e.text)
		src = src[i+j+1:]
	}
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		b.line(l)
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (b *Builder) combine(op Op, a, c string) string {
	switch op {
	case OpMax:
		return b.Call(Max, Expr{text: a}, Expr{text: c}).text
	case OpMin:
		return b.Call(Min, Expr{text: a}, Expr{text: c}).text
	}
	return a + " + " + c
}

// SimdReduce reduces v across the SIMD group (32 lanes) with a shuffle-xor
// ladder; every lane receives the result.
func (b *Builder) SimdReduce(op Op, v Expr) *Var {
	r := b.Let(Float, "red", v)
	for o := 16; o > 0; o >>= 1 {
		var sh string
		if b.D == CUDA {
			sh = fmt.Sprintf("__shfl_xor_sync(0xffffffffu, %s, %d)", r.name, o)
		} else {
			sh = fmt.Sprintf("simd_shuffle_xor(%s, ushort(%d))", r.name, o)
		}
		b.line(r.name + " = " + b.combine(op, r.name, sh) + ";")
	}
	return r
}

// BlockReduce reduces v across the whole threadgroup: a SIMD ladder, the
// per-SIMD partials through threadgroup memory, and a second ladder. Every
// thread receives the result.
func (b *Builder) BlockReduce(op Op, v Expr) *Var {
	r := b.SimdReduce(op, v)
	groups := b.Threads / 32
	if groups <= 1 {
		return r
	}
	if b.part == nil {
		b.part = b.Shared(Float, "part", groups)
	}
	sh := b.part
	b.If(F("(%s %% 32) == 0", b.Tid()), func() { b.Stmt(F("%s[%s / 32] = %s", sh, b.Tid(), r)) })
	b.Barrier()
	ident := "0.0f"
	switch op {
	case OpMax:
		ident = "-INFINITY"
	case OpMin:
		ident = "INFINITY"
	}
	// Every SIMD group reduces the partials, so every thread gets the result.
	p := b.Let(Float, "p", F("(%s %% 32) < %d ? %s[%s %% 32] : %s", b.Tid(), groups, sh, b.Tid(), Expr{text: ident}))
	res := b.SimdReduce(op, p.E())
	b.Barrier()
	return res
}

// Load reads element idx of a buffer argument as float.
func (b *Builder) Load(buf *Buf, idx Expr) Expr {
	return F("ld(%s[%s])", buf.v, idx)
}

// Store writes float value val to element idx of a buffer argument,
// converting to its storage type.
func (b *Builder) Store(buf *Buf, idx, val Expr) {
	conv := val
	if buf.Elem == Half {
		if b.D == CUDA {
			conv = F("__float2half(%s)", val)
		} else {
			conv = F("half(%s)", val)
		}
	}
	b.Stmt(F("%s[%s] = %s", buf.v, idx, conv))
}
