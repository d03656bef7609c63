package kernel

// Pointwise is the main of an unfused epilogue (Split): y[row, k] =
// epilogues(x[row, k]) over rows of N elements, the epilogues applied as
// they are to output O of the fused kernel's main (a bias epilogue adds
// that output's bias). With Aux, Ctx.Aux and Frame.Aux read a second
// input of the same shape (the up half of a gate/up pair, for SwiGLU).
// With Offset the destination row is the token row plus the call's
// position (a KV-cache write, read from the vars buffer). One work item
// is one token row, 128 threads on the GPU.
type Pointwise struct {
	N       int
	O       int // the output of the fused main whose values these are
	In, Out Type
	Aux     bool
	Offset  bool
	a       struct {
		X    Buf `dsl:"buffer"`
		Aux  Buf `dsl:"buffer,name=aux"`
		Y    Buf `dsl:"buffer,output"`
		Vars Buf `dsl:"buffer,name=vars,var=vars"`
	}
}

// Name returns "pointwise".
func (s *Pointwise) Name() string { return "pointwise" }

// Args declares x, aux (with Aux), y and the vars buffer (with Offset).
func (s *Pointwise) Args() any {
	s.a.X = Buf{Elem: s.In}
	s.a.Aux = Buf{Elem: s.In, Omit: !s.Aux}
	s.a.Y = Buf{Elem: s.Out}
	s.a.Vars = Buf{Elem: Int, Omit: !s.Offset}
	return &s.a
}

// Includes is empty.
func (s *Pointwise) Includes() []Include { return nil }

// Preset is one row per 128-thread threadgroup.
func (s *Pointwise) Preset() Preset { return PerRow() }

// GridX is 1: a work item is a whole row.
func (s *Pointwise) GridX() int { return 1 }

// outW is the row width every output up to O has, as Ctx.OutW and
// Frame.OutW report it to the epilogues.
func (s *Pointwise) outW() []int {
	w := make([]int, s.O+1)
	for i := range w {
		w[i] = s.N
	}
	return w
}

// Emit emits the row loop.
func (s *Pointwise) Emit(c *Ctx) {
	b := c.B
	row := b.Let(Int, "row", b.GroupY())
	c.Row, c.InLen, c.OutW = row.E(), I(s.N), s.outW()
	dst := row.E()
	if s.Offset {
		dst = F("(%s + %s)", row, posExpr(&s.a.Vars))
	}
	b.For("k", b.Tid(), I(s.N), I(b.Threads), func(k Expr) {
		idx := F("%s * %d + %s", row, s.N, k)
		if s.Aux {
			c.Aux = b.Let(Float, "aux", b.Load(&s.a.Aux, idx)).E()
		}
		v := b.Let(Float, "v", b.Load(&s.a.X, idx))
		b.Store(&s.a.Y, F("%s * %d + %s", dst, s.N, k), c.Out(s.O, k, v.E()))
	})
}

// CPUItem applies the epilogues to one row.
func (s *Pointwise) CPUItem(f *Frame, _, epi func()) {
	f.Row = f.Y
	f.Out = grow(f.Out, s.N)
	ReadAct(f.Args[s.a.X.Index], s.In, f.Row*s.N, f.Out)
	if s.Aux {
		f.Aux = grow(f.Aux, s.N)
		ReadAct(f.Args[s.a.Aux.Index], s.In, f.Row*s.N, f.Aux)
	}
	f.O, f.Col0, f.OutW = s.O, 0, s.N
	epi()
	dst := f.Row
	if s.Offset {
		dst += posCPU(f, &s.a.Vars)
	}
	WriteAct(f.Args[s.a.Y.Index], s.Out, dst*s.N, f.Out)
}
