package kernel

// CopyMode selects how Copy maps rows.
type CopyMode int

// Copy modes.
const (
	// CopyRows copies row t to row t (+ the call's position when Offset).
	CopyRows CopyMode = iota
	// CopyGather reads row index[t].
	CopyGather
	// CopyScatter writes row index[t].
	CopyScatter
)

// Copy is the main body moving Segs segments of N elements per row from x
// (rows SrcStride apart) to y (rows DstStride apart) through the
// prologues and epilogues: with RoPE it is the fused RoPE + KV-cache
// write; with Embed it is the embedding gather (Gathered: no x).
type Copy struct {
	Mode                 CopyMode
	N, Segs              int
	SrcStride, DstStride int
	In, Out              Type
	Offset               bool // destination row += the call's position (vars buffer): a KV-cache write
	Gathered             bool // a prologue supplies the input
	SIMD                 bool // per_row_simd preset
	a                    struct {
		X     Buf `dsl:"buffer"`
		Index Buf `dsl:"buffer"`
		Y     Buf `dsl:"buffer,output"`
		Vars  Buf `dsl:"buffer,name=vars,var=vars"`
	}
}

// Name returns "copy".
func (s *Copy) Name() string { return "copy" }

// Args declares x, the index buffer, y and the vars buffer as the mode
// needs them.
func (s *Copy) Args() any {
	s.a.X = Buf{Elem: s.In, Omit: s.Gathered}
	s.a.Index = Buf{Elem: Int, Omit: s.Mode == CopyRows}
	s.a.Y = Buf{Elem: s.Out}
	s.a.Vars = Buf{Elem: Int, Omit: !s.Offset}
	return &s.a
}

// Includes is empty.
func (s *Copy) Includes() []Include { return nil }

// Preset is per_row (or per_row_simd).
func (s *Copy) Preset() Preset {
	if s.SIMD {
		return PerRowSIMD()
	}
	return PerRow()
}

// GridX is the number of segments.
func (s *Copy) GridX() int { return max(s.Segs, 1) }

func (s *Copy) collapse(c []RowEpilogue) bool { return len(c) > 0 && c[0].Collapse() }

// Emit emits the row copy.
func (s *Copy) Emit(c *Ctx) {
	b := c.B
	seg := b.Let(Int, "seg", b.GroupX())
	row := b.Let(Int, "row", b.GroupY())
	c.Row, c.InLen, c.OutW = row.E(), I(s.N), []int{s.N}
	src := row.E()
	if s.Mode == CopyGather {
		src = F("%s[%s]", s.a.Index.v, row)
	}
	load := c.Prologues(func(k Expr) Expr {
		return b.Load(&s.a.X, F("%s * %d + %s * %d + %s", src, s.SrcStride, seg, s.N, k))
	})
	dst := row.E()
	if s.Mode == CopyScatter {
		dst = F("%s[%s]", s.a.Index.v, row)
	}
	if s.Offset {
		dst = F("(%s + %s)", dst, posExpr(&s.a.Vars))
	}
	res := c.RowEpilogues()
	for _, r := range res {
		r.RowSetup(c, I(s.N), load)
	}
	if s.collapse(res) {
		b.If(F("%s == 0", b.Tid()), func() {
			b.Store(&s.a.Y, F("%s * %d + %s", dst, s.DstStride, seg), c.Out(0, I(0), Lit(0)))
		})
		return
	}
	b.For("k", b.Tid(), I(s.N), I(b.Threads), func(k Expr) {
		b.Store(&s.a.Y, F("%s * %d + %s * %d + %s", dst, s.DstStride, seg, s.N, k), c.Out(0, k, load(k)))
	})
}

// CPUItem copies one segment of one row.
func (s *Copy) CPUItem(f *Frame, pro, epi func()) {
	seg := f.X
	f.Row = f.Y
	f.In = grow(f.In, s.N)
	src, dst := f.Row, f.Row
	switch s.Mode {
	case CopyGather:
		src = int(f.Args[s.a.Index.Index].I32()[f.Row])
	case CopyScatter:
		dst = int(f.Args[s.a.Index.Index].I32()[f.Row])
	}
	if s.Offset {
		dst += posCPU(f, &s.a.Vars)
	}
	if !s.Gathered {
		ReadAct(f.Args[s.a.X.Index], s.In, src*s.SrcStride+seg*s.N, f.In)
	}
	pro()
	f.Out = append(f.Out[:0], f.In...)
	f.O, f.Col0, f.OutW = 0, seg*s.N, s.N
	epi()
	off := dst*s.DstStride + seg*s.N
	if len(f.Out) == 1 && s.N > 1 {
		off = dst*s.DstStride + seg
	}
	WriteAct(f.Args[s.a.Y.Index], s.Out, off, f.Out)
}
