package kernel

import "fmt"

// Test-only faults: a stage whose output is slightly wrong, in its GPU
// sources and its CPU twin alike, so that tests can prove the harness
// localizes a defect inside a fused kernel (and, with Split, to the
// stage). Nothing but tests should call Faulty.

// Faulty returns stage s (a prologue, a main other than Copy, or an
// epilogue other than a row epilogue) with its output values multiplied
// by 1+rel at odd columns and 1−rel at even ones (the factors rounded to
// float32; a column is the index within the vector a prologue transforms,
// or the output column). For a main or an epilogue only output o of the
// main is changed (o < 0: every output); a prologue feeds every output.
// The fault keeps the stage's name and arguments, and survives Clone and
// Split.
func Faulty(s Stage, rel float32, o int) (Stage, error) {
	f := fault{hi: 1 + rel, lo: 1 - rel, o: o}
	switch x := s.(type) {
	case RowStats:
		return &faultRowStats{faultPro{x, f}}, nil
	case Prologue:
		return &faultPro{x, f}, nil
	case *Copy:
		return nil, fmt.Errorf("kernel: no fault for a copy main")
	case Main:
		return &faultMain{x, f}, nil
	case RowEpilogue:
		return nil, fmt.Errorf("kernel: no fault for row epilogue %s", x.Name())
	case Epilogue:
		return &faultEpi{x, f}, nil
	}
	return nil, fmt.Errorf("kernel: stage %s is neither a prologue, a main nor an epilogue", s.Name())
}

// fault is the perturbation: factor hi at odd columns, lo at even ones,
// on output o (-1: all).
type fault struct {
	hi, lo float32
	o      int
}

func (f fault) on(o int) bool { return f.o < 0 || o == f.o }

// apply is the perturbed value v of column col in generated code.
func (f fault) apply(col, v Expr) Expr {
	return F("(%s * (((%s) & 1) != 0 ? %s : %s))", v, col, Lit(f.hi), Lit(f.lo))
}

// cpu perturbs vals, whose first element is column col0.
func (f fault) cpu(vals []float32, col0 int) {
	for i := range vals {
		if (col0+i)&1 != 0 {
			vals[i] *= f.hi
		} else {
			vals[i] *= f.lo
		}
	}
}

// faultPro is a faulty prologue.
type faultPro struct {
	Prologue
	f fault
}

func (p *faultPro) CloneStage() Stage { return &faultPro{Clone(p.Prologue), p.f} }

func (p *faultPro) Setup(c *Ctx, load Loader) Loader {
	l := p.Prologue.Setup(c, load)
	return func(k Expr) Expr { return p.f.apply(k, l(k)) }
}

func (p *faultPro) CPU(f *Frame) {
	p.Prologue.CPU(f)
	p.f.cpu(f.In, 0)
}

// faultRowStats is a faulty prologue that the tiled GEMM can apply.
type faultRowStats struct{ faultPro }

func (p *faultRowStats) CloneStage() Stage {
	return &faultRowStats{faultPro{Clone(p.Prologue), p.f}}
}

func (p *faultRowStats) rs() RowStats                    { return p.Prologue.(RowStats) }
func (p *faultRowStats) Term(v Expr) Expr                { return p.rs().Term(v) }
func (p *faultRowStats) Finish(c *Ctx, sum, n Expr) Expr { return p.rs().Finish(c, sum, n) }
func (p *faultRowStats) Transform(c *Ctx, k, v, st Expr) Expr {
	return p.f.apply(k, p.rs().Transform(c, k, v, st))
}

// faultEpi is a faulty epilogue.
type faultEpi struct {
	Epilogue
	f fault
}

func (e *faultEpi) CloneStage() Stage { return &faultEpi{Clone(e.Epilogue), e.f} }

func (e *faultEpi) Apply(c *Ctx, o int, col, v Expr) Expr {
	v = e.Epilogue.Apply(c, o, col, v)
	if !e.f.on(o) {
		return v
	}
	return e.f.apply(col, v)
}

func (e *faultEpi) CPU(f *Frame) {
	e.Epilogue.CPU(f)
	if e.f.on(f.O) {
		e.f.cpu(f.Out, f.Col0)
	}
}

// faultMain is a faulty main: its outputs are perturbed before the
// epilogues see them.
type faultMain struct {
	Main
	f fault
}

func (m *faultMain) CloneStage() Stage { return &faultMain{Clone(m.Main), m.f} }

// first is the fault as the epilogue that runs before the main's own.
type faultFirst struct{ f fault }

func (faultFirst) Name() string        { return "fault" }
func (faultFirst) Args() any           { return nil }
func (faultFirst) Includes() []Include { return nil }
func (e faultFirst) Apply(_ *Ctx, o int, col, v Expr) Expr {
	if !e.f.on(o) {
		return v
	}
	return e.f.apply(col, v)
}
func (e faultFirst) CPU(f *Frame) {
	if e.f.on(f.O) {
		e.f.cpu(f.Out, f.Col0)
	}
}

func (m *faultMain) Emit(c *Ctx) {
	c.epis = append([]Epilogue{faultFirst{m.f}}, c.epis...)
	m.Main.Emit(c)
}

func (m *faultMain) CPUItem(f *Frame, pro, epi func()) {
	m.Main.CPUItem(f, pro, func() {
		faultFirst{m.f}.CPU(f)
		epi()
	})
}

func (m *faultMain) GridY(rows int) int {
	if gy, ok := m.Main.(interface{ GridY(int) int }); ok {
		return gy.GridY(rows)
	}
	return rows
}

func (m *faultMain) Check() error {
	if ch, ok := m.Main.(interface{ Check() error }); ok {
		return ch.Check()
	}
	return nil
}

// unwrapMain returns the main under a test fault and the function that
// puts a main back under the same fault (the identity for other mains).
func unwrapMain(m Main) (Main, func(Main) Main) {
	if fm, ok := m.(*faultMain); ok {
		return fm.Main, func(x Main) Main { return &faultMain{x, fm.f} }
	}
	return m, func(x Main) Main { return x }
}
