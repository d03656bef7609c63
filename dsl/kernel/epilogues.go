package kernel

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// Bias is an epilogue adding a bias vector per output (one dtype per
// output of the main: one, or three for a fused QKV).
type Bias struct {
	Types []gguf.Type
	a     struct {
		B0 Buf `dsl:"buffer"`
		B1 Buf `dsl:"buffer"`
		B2 Buf `dsl:"buffer"`
	}
}

func (s *Bias) b(i int) *Buf { return []*Buf{&s.a.B0, &s.a.B1, &s.a.B2}[i] }

// Name returns "bias".
func (s *Bias) Name() string { return "bias" }

// Args declares one bias buffer per output.
func (s *Bias) Args() any {
	for i := 0; i < 3; i++ {
		*s.b(i) = Buf{Elem: Uchar, Omit: i >= len(s.Types)}
	}
	return &s.a
}

// Includes returns the bias accessors.
func (s *Bias) Includes() []Include {
	var incs []Include
	for _, t := range s.Types {
		incs = append(incs, weightInclude(t))
	}
	return incs
}

// Apply adds bias_o[col].
func (s *Bias) Apply(c *Ctx, o int, col, v Expr) Expr {
	if o >= len(s.Types) {
		return v
	}
	return F("(%s + %s)", v, W(s.Types[o], s.b(o), I(0), I(0), col))
}

// CPU adds the bias of output f.O.
func (s *Bias) CPU(f *Frame) {
	if f.O >= len(s.Types) {
		return
	}
	bias := WeightRow(s.Types[f.O], f.Args[s.b(f.O).Index].Bytes(), f.OutW, 0, f.Scratch(2, f.OutW))
	for i := range f.Out {
		f.Out[i] += bias[f.Col0+i]
	}
}

// Residual is the epilogue v·alpha + r·beta, r the residual buffer laid
// out like output 0 (the GEMV "beta = 1" residual add).
type Residual struct {
	Alpha, Beta float32
	Elem        Type // storage of the residual buffer
	a           struct {
		R     Buf        `dsl:"buffer,name=residual"`
		Alpha FloatParam `dsl:"param"`
		Beta  FloatParam `dsl:"param"`
	}
}

// Name returns "residual".
func (s *Residual) Name() string { return "residual" }

// Args declares the residual buffer, alpha and beta.
func (s *Residual) Args() any {
	s.a.R.Elem, s.a.Alpha.Value, s.a.Beta.Value = s.Elem, s.Alpha, s.Beta
	return &s.a
}

// Includes is empty.
func (s *Residual) Includes() []Include { return nil }

// Apply returns alpha·v + beta·r[row, col] for output 0.
func (s *Residual) Apply(c *Ctx, o int, col, v Expr) Expr {
	if o != 0 {
		return v
	}
	r := c.B.Load(&s.a.R, F("%s * %d + %s", c.Row, c.OutW[0], col))
	return F("(%s * %s + %s * %s)", s.a.Alpha.E(), v, s.a.Beta.E(), r)
}

// CPU applies the residual to output 0.
func (s *Residual) CPU(f *Frame) {
	if f.O != 0 {
		return
	}
	r := f.Scratch(2, len(f.Out))
	ReadAct(f.Args[s.a.R.Index], s.Elem, f.Row*f.OutW+f.Col0, r)
	for i, v := range f.Out {
		f.Out[i] = s.Alpha*v + s.Beta*r[i]
	}
}

// SwiGLU is the epilogue silu(v)·aux for paired mains (gate, up).
type SwiGLU struct{}

// Name returns "swiglu".
func (SwiGLU) Name() string { return "swiglu" }

// Args is nil.
func (SwiGLU) Args() any { return nil }

// Includes is empty.
func (SwiGLU) Includes() []Include { return nil }

// Apply returns silu(v)·aux.
func (SwiGLU) Apply(c *Ctx, _ int, _, v Expr) Expr {
	return F("(%s / (1.0f + %s) * %s)", v, c.B.Call(Exp, F("-%s", v)), c.Aux)
}

// CPU applies SwiGLU with f.Aux.
func (SwiGLU) CPU(f *Frame) {
	for i, v := range f.Out {
		f.Out[i] = silu(v) * f.Aux[i]
	}
}

// GELU is the tanh-approximated GELU epilogue.
type GELU struct{}

// Name returns "gelu".
func (GELU) Name() string { return "gelu" }

// Args is nil.
func (GELU) Args() any { return nil }

// Includes is empty.
func (GELU) Includes() []Include { return nil }

// Apply returns gelu(v).
func (GELU) Apply(c *Ctx, _ int, _, v Expr) Expr {
	t := c.B.Call(Tanh, F("0.7978845608f * (%s + 0.044715f * %s * %s * %s)", v, v, v, v))
	return F("(0.5f * %s * (1.0f + %s))", v, t)
}

// CPU applies GELU.
func (GELU) CPU(f *Frame) {
	for i, v := range f.Out {
		f.Out[i] = gelu(v)
	}
}

// Softmax is the row epilogue exp(v−max)/Σexp(v−max).
type Softmax struct{ m, s *Var }

// Name returns "softmax".
func (*Softmax) Name() string { return "softmax" }

// Args is nil.
func (*Softmax) Args() any { return nil }

// Includes is empty.
func (*Softmax) Includes() []Include { return nil }

// Collapse is false.
func (*Softmax) Collapse() bool { return false }

// RowSetup reduces the row maximum and the sum of exponentials.
func (s *Softmax) RowSetup(c *Ctx, n Expr, load Loader) {
	b := c.B
	mx := b.Let(Float, "mx", Expr{text: "-INFINITY"})
	b.For("k", b.Tid(), n, I(b.Threads), func(k Expr) { b.Set(mx, b.Call(Max, mx.E(), load(k))) })
	s.m = b.BlockReduce(OpMax, mx.E())
	sum := b.Let(Float, "se", Lit(0))
	b.For("k", b.Tid(), n, I(b.Threads), func(k Expr) {
		b.Set(sum, F("%s + %s", sum, b.Call(Exp, F("%s - %s", load(k), s.m))))
	})
	s.s = b.BlockReduce(OpAdd, sum.E())
}

// Apply normalizes v.
func (s *Softmax) Apply(c *Ctx, _ int, _, v Expr) Expr {
	return F("(%s / %s)", c.B.Call(Exp, F("%s - %s", v, s.m)), s.s)
}

// CPU applies the softmax to the whole row in f.Out.
func (s *Softmax) CPU(f *Frame) {
	m := float32(math.Inf(-1))
	for _, v := range f.Out {
		m = max(m, v)
	}
	var sum float32
	for i, v := range f.Out {
		e := float32(math.Exp(float64(v - m)))
		f.Out[i] = e
		sum += e
	}
	for i := range f.Out {
		f.Out[i] /= sum
	}
}

// Reduce is the row epilogue collapsing a row to its sum, maximum or
// minimum with a SIMD shuffle ladder (and threadgroup partials).
type Reduce struct {
	Op Op
	r  *Var
}

// Name returns "reduce".
func (*Reduce) Name() string { return "reduce" }

// Args is nil.
func (*Reduce) Args() any { return nil }

// Includes is empty.
func (*Reduce) Includes() []Include { return nil }

// Collapse is true: one value per row.
func (*Reduce) Collapse() bool { return true }

// RowSetup reduces the row.
func (s *Reduce) RowSetup(c *Ctx, n Expr, load Loader) {
	b := c.B
	init := Lit(0)
	switch s.Op {
	case OpMax:
		init = Expr{text: "-INFINITY"}
	case OpMin:
		init = Expr{text: "INFINITY"}
	}
	acc := b.Let(Float, "acc", init)
	b.For("k", b.Tid(), n, I(b.Threads), func(k Expr) {
		if s.Op == OpAdd {
			b.Set(acc, F("%s + %s", acc, load(k)))
		} else {
			b.Set(acc, Expr{text: b.combine(s.Op, acc.name, load(k).text), refs: append([]*Var{acc}, load(k).refs...)})
		}
	})
	s.r = b.BlockReduce(s.Op, acc.E())
}

// Apply returns the reduction.
func (s *Reduce) Apply(*Ctx, int, Expr, Expr) Expr { return s.r.E() }

// CPU reduces f.Out to one value.
func (s *Reduce) CPU(f *Frame) {
	acc := f.Out[0]
	for _, v := range f.Out[1:] {
		switch s.Op {
		case OpAdd:
			acc += v
		case OpMax:
			acc = max(acc, v)
		case OpMin:
			acc = min(acc, v)
		}
	}
	f.Out = f.Out[:1]
	f.Out[0] = acc
}
