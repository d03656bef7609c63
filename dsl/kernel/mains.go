package kernel

import (
	"fmt"
	"math"
)

// Attention is the main body of causal attention for one (head, token)
// work item, directly over the compact grouped-query KV cache (rows of
// KVHeads·HeadDim, head h reads KV head h/(Heads/KVHeads): no repeated
// copy) in a single pass with an online softmax. Token t of the dispatch
// sits at position pos+t ("attention.pos", bound at dispatch) and attends
// to cache rows 0…pos+t.
type Attention struct {
	Heads, KVHeads, HeadDim int
	In, Cache, Out          Type
	a                       struct {
		Q     Buf        `dsl:"buffer"`
		KC    Buf        `dsl:"buffer,name=k_cache"`
		VC    Buf        `dsl:"buffer,name=v_cache"`
		Y     Buf        `dsl:"buffer,output"`
		Pos   IntParam   `dsl:"param,dynamic,var=pos"`
		Scale FloatParam `dsl:"param"`
	}
}

// Name returns "attention".
func (s *Attention) Name() string { return "attention" }

// Args declares q, the caches, the output, pos and the scale 1/√hd.
func (s *Attention) Args() any {
	s.a.Q.Elem, s.a.KC.Elem, s.a.VC.Elem, s.a.Y.Elem = s.In, s.Cache, s.Cache, s.Out
	s.a.Scale.Value = float32(1 / math.Sqrt(float64(s.HeadDim)))
	return &s.a
}

// Includes is empty.
func (s *Attention) Includes() []Include { return nil }

// Preset is per_row: one head row per threadgroup.
func (s *Attention) Preset() Preset { return PerRow() }

// GridX is the number of query heads.
func (s *Attention) GridX() int { return s.Heads }

// Check requires the head to fit one threadgroup and whole KV groups.
func (s *Attention) Check() error {
	if s.HeadDim <= 0 || s.HeadDim > PerRow().Threads || s.KVHeads <= 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("attention: heads %d/%d, head dim %d unsupported", s.Heads, s.KVHeads, s.HeadDim)
	}
	return nil
}

// Emit emits the single-pass online-softmax attention; threads own the
// head dimensions and each score is a threadgroup reduction.
func (s *Attention) Emit(c *Ctx) {
	b := c.B
	hd, kvw := s.HeadDim, s.KVHeads*s.HeadDim
	h := b.Let(Int, "h", b.GroupX())
	row := b.Let(Int, "row", b.GroupY())
	c.Row, c.InLen, c.OutW = row.E(), I(hd), []int{s.Heads * hd}
	load := c.Prologues(func(k Expr) Expr {
		return b.Load(&s.a.Q, F("%s * %d + %s * %d + %s", row, s.Heads*hd, h, hd, k))
	})
	kvh := b.Let(Int, "kvh", F("%s / %d", h, s.Heads/s.KVHeads))
	d := b.Let(Int, "d", b.Tid())
	live := F("%s < %d", d, hd)
	qd := b.Let(Float, "qd", F("%s ? %s : 0.0f", live, load(d.E())))
	m := b.Let(Float, "m", Expr{text: "-INFINITY"})
	l := b.Let(Float, "l", Lit(0))
	acc := b.Let(Float, "acc", Lit(0))
	n := F("%s + %s + 1", s.a.Pos.E(), row)
	b.For("j", I(0), n, I(1), func(j Expr) {
		off := F("%s * %d + %s * %d + %s", j, kvw, kvh, hd, d)
		kd := b.Let(Float, "kd", F("%s ? %s : 0.0f", live, b.Load(&s.a.KC, off)))
		sc := b.BlockReduce(OpAdd, F("%s * %s", qd, kd))
		sv := b.Let(Float, "s", F("%s * %s", sc, s.a.Scale.E()))
		mn := b.Let(Float, "mn", b.Call(Max, m.E(), sv.E()))
		corr := b.Let(Float, "corr", b.Call(Exp, F("%s - %s", m, mn)))
		p := b.Let(Float, "p", b.Call(Exp, F("%s - %s", sv, mn)))
		b.Set(l, F("%s * %s + %s", l, corr, p))
		b.Set(acc, F("%s * %s + %s * (%s ? %s : 0.0f)", acc, corr, p, live, b.Load(&s.a.VC, off)))
		b.Set(m, mn.E())
	})
	b.If(live, func() {
		col := F("%s * %d + %s", h, hd, d)
		b.Store(&s.a.Y, F("%s * %d + %s", row, s.Heads*hd, col), c.Out(0, col, F("%s / %s", acc, l)))
	})
}

// CPUItem computes one head of one token.
func (s *Attention) CPUItem(f *Frame, pro, epi func()) {
	hd, kvw := s.HeadDim, s.KVHeads*s.HeadDim
	h := f.X
	f.Row = f.Y
	f.In = grow(f.In, hd)
	ReadAct(f.Args[s.a.Q.Index], s.In, f.Row*s.Heads*hd+h*hd, f.In)
	pro()
	kvh := h / (s.Heads / s.KVHeads)
	n := f.Args[s.a.Pos.Index].I + f.Row + 1
	kbuf, vbuf := f.Args[s.a.KC.Index], f.Args[s.a.VC.Index]
	kr, vr := f.Scratch(0, hd), f.Scratch(1, hd)
	f.Out = grow(f.Out, hd)
	clear(f.Out)
	// An f32 cache is read in place; f16 rows are widened into kr, vr.
	var kf, vf []float32
	if s.Cache != Half {
		kf, vf = kbuf.F32(), vbuf.F32()
	}
	m, l := float32(math.Inf(-1)), float32(0)
	for j := 0; j < n; j++ {
		off := j*kvw + kvh*hd
		k, v := kr, vr
		if kf != nil {
			k, v = kf[off:off+hd], vf[off:off+hd]
		} else {
			ReadAct(kbuf, s.Cache, off, kr)
			ReadAct(vbuf, s.Cache, off, vr)
		}
		sv := Dot(f.In, k) * s.a.Scale.Value
		mn := max(m, sv)
		p := float32(math.Exp(float64(sv - mn)))
		if mn == m {
			// The running max holds: the rescale factor is exp(0) = 1,
			// and multiplying by it changes no bit.
			l += p
			for i, vv := range v {
				f.Out[i] += p * vv
			}
			continue
		}
		corr := float32(math.Exp(float64(m - mn)))
		l = l*corr + p
		for i, vv := range v {
			f.Out[i] = f.Out[i]*corr + p*vv
		}
		m = mn
	}
	for i := range f.Out {
		f.Out[i] /= l
	}
	f.O, f.Col0, f.OutW = 0, h*hd, s.Heads*hd
	epi()
	WriteAct(f.Args[s.a.Y.Index], s.Out, f.Row*s.Heads*hd+h*hd, f.Out)
}

// CopyMode selects how Copy maps rows.
type CopyMode int

// Copy modes.
const (
	// CopyRows copies row t to row t (+ "copy.row0" when Offset).
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
	Offset               bool // destination row += copy.row0 (bound at dispatch)
	Gathered             bool // a prologue supplies the input
	SIMD                 bool // per_row_simd preset
	a                    struct {
		X     Buf      `dsl:"buffer"`
		Index Buf      `dsl:"buffer"`
		Y     Buf      `dsl:"buffer,output"`
		Row0  IntParam `dsl:"param,dynamic,var=pos"`
	}
}

// Name returns "copy".
func (s *Copy) Name() string { return "copy" }

// Args declares x, the index buffer, y and row0 as the mode needs them.
func (s *Copy) Args() any {
	s.a.X = Buf{Elem: s.In, Omit: s.Gathered}
	s.a.Index = Buf{Elem: Int, Omit: s.Mode == CopyRows}
	s.a.Y = Buf{Elem: s.Out}
	s.a.Row0 = IntParam{Omit: !s.Offset}
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
		dst = F("(%s + %s)", dst, s.a.Row0.E())
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
		dst += f.Args[s.a.Row0.Index].I
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
