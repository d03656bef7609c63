package kernel

import (
	"fmt"
	"math"
)

// attnWarps is the number of SIMD groups of an attention threadgroup: the
// keys of a head are dealt to them round-robin, attnKeys at a time.
const (
	attnWarps = 8
	attnKeys  = 8
)

// Attention is the main body of causal attention for one (head, token)
// work item, directly over the compact grouped-query KV cache (rows of
// KVHeads·HeadDim, head h reads KV head h/(Heads/KVHeads): no repeated
// copy), with an online softmax. Token t of the dispatch sits at position
// pos+t (pos read from the vars buffer) and attends to cache rows 0…pos+t.
//
// On the GPU a threadgroup of attnWarps SIMD groups computes one item: key
// j goes to SIMD group j mod attnWarps, which takes attnKeys keys per step
// (their loads in flight together) and whose lanes hold the head's
// dimensions (lane, lane+32, …); each score is a SIMD shuffle reduction
// and each group keeps its own running max, sum and weighted values,
// rescaled once per step. The groups' partial results are combined in a
// fixed order through threadgroup memory, so the result is deterministic.
// The CPU twin runs the keys in order with one online softmax.
type Attention struct {
	Heads, KVHeads, HeadDim int
	In, Cache, Out          Type
	a                       struct {
		Q     Buf        `dsl:"buffer"`
		KC    Buf        `dsl:"buffer,name=k_cache"`
		VC    Buf        `dsl:"buffer,name=v_cache"`
		Y     Buf        `dsl:"buffer,output"`
		Vars  Buf        `dsl:"buffer,name=vars,var=vars"`
		Scale FloatParam `dsl:"param"`
	}
}

// Name returns "attention".
func (s *Attention) Name() string { return "attention" }

// Args declares q, the caches, the output, the vars buffer and the scale
// 1/√hd.
func (s *Attention) Args() any {
	s.a.Q.Elem, s.a.KC.Elem, s.a.VC.Elem, s.a.Y.Elem = s.In, s.Cache, s.Cache, s.Out
	s.a.Vars = varsBuf()
	s.a.Scale.Value = float32(1 / math.Sqrt(float64(s.HeadDim)))
	return &s.a
}

// Includes is empty.
func (s *Attention) Includes() []Include { return nil }

// Preset is one (head, token) per threadgroup of attnWarps SIMD groups.
func (s *Attention) Preset() Preset {
	return Preset{Name: "attention", Threads: 32 * attnWarps, PerItem: 1}
}

// GridX is the number of query heads.
func (s *Attention) GridX() int { return s.Heads }

// Check requires a head of at most 256 dimensions and whole KV groups.
func (s *Attention) Check() error {
	if s.HeadDim <= 0 || s.HeadDim > 256 || s.KVHeads <= 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("attention: heads %d/%d, head dim %d unsupported", s.Heads, s.KVHeads, s.HeadDim)
	}
	return nil
}

// Emit emits the split-key online-softmax attention.
func (s *Attention) Emit(c *Ctx) {
	b := c.B
	hd, kvw := s.HeadDim, s.KVHeads*s.HeadDim
	nd := (hd + 31) / 32 // dimensions per lane
	h := b.Let(Int, "h", b.GroupX())
	row := b.Let(Int, "row", b.GroupY())
	c.Row, c.InLen, c.OutW = row.E(), I(hd), []int{s.Heads * hd}
	load := c.Prologues(func(k Expr) Expr {
		return b.Load(&s.a.Q, F("%s * %d + %s * %d + %s", row, s.Heads*hd, h, hd, k))
	})
	kvh := b.Let(Int, "kvh", F("%s / %d", h, s.Heads/s.KVHeads))
	lane := b.Let(Int, "lane", F("%s %% 32", b.Tid()))
	warp := b.Let(Int, "warp", F("%s / 32", b.Tid()))
	// Lane dimension i is lane + 32·i; live says it exists.
	dim := func(i int) Expr { return F("(%s + %d)", lane, 32*i) }
	live := func(i int) Expr {
		if 32*(i+1) <= hd {
			return Expr{text: "true"}
		}
		return F("(%s < %d)", dim(i), hd)
	}
	qv := make([]*Var, nd)
	acc := make([]*Var, nd)
	for i := range qv {
		qv[i] = b.Let(Float, "q", F("%s ? %s : 0.0f", live(i), load(dim(i))))
		acc[i] = b.Let(Float, "acc", Lit(0))
	}
	m := b.Let(Float, "m", Expr{text: "-INFINITY"})
	l := b.Let(Float, "l", Lit(0))
	n := b.Let(Int, "n", F("%s + %s + 1", posExpr(&s.a.Vars), row))
	// Each SIMD group takes attnKeys keys per iteration (their loads in
	// flight together): keys it·G·attnKeys + q·G + warp, q < attnKeys, G the
	// group count. Every group runs the same number of iterations (shuffles
	// stay group-uniform); keys past n are read at row 0 and weigh 0.
	per := attnWarps * attnKeys
	iters := F("(%s + %d) / %d", n, per-1, per)
	b.For("it", I(0), iters, I(1), func(it Expr) {
		// Keys and values of the step's keys are loaded up front: one
		// round trip to memory per step.
		var valid []*Var
		var kd, vd [][]Expr
		for q := 0; q < attnKeys; q++ {
			j := b.Let(Int, "j", F("%s * %d + %d + %s", it, per, q*attnWarps, warp))
			valid = append(valid, b.Let(Bool, "valid", F("%s < %s", j, n)))
			base := b.Let(Int, "base", F("(%s ? %s : 0) * %d + %s * %d", valid[q], j, kvw, kvh, hd))
			var ks, vs []Expr
			for i := range qv {
				off := F("%s + %s", base, dim(i))
				ks = append(ks, b.Let(Float, "kd", F("%s ? %s : 0.0f", live(i), b.Load(&s.a.KC, off))).E())
				vs = append(vs, b.Let(Float, "vd", F("%s ? %s : 0.0f", live(i), b.Load(&s.a.VC, off))).E())
			}
			kd, vd = append(kd, ks), append(vd, vs)
		}
		sc := make([]*Var, attnKeys)
		for q := range sc {
			part := b.Let(Float, "part", Lit(0))
			for i := range qv {
				b.Set(part, F("%s + %s * %s", part, qv[i], kd[q][i]))
			}
			red := b.SimdReduce(OpAdd, part.E())
			sc[q] = b.Let(Float, "s", F("%s ? %s * %s : -INFINITY", valid[q], red, s.a.Scale.E()))
		}
		mx := b.Let(Float, "mx", sc[0].E())
		for q := 1; q < attnKeys; q++ {
			b.Set(mx, b.Call(Max, mx.E(), sc[q].E()))
		}
		b.If(F("%s > -INFINITY", mx), func() {
			mn := b.Let(Float, "mn", b.Call(Max, m.E(), mx.E()))
			corr := b.Let(Float, "corr", b.Call(Exp, F("%s - %s", m, mn)))
			p := make([]*Var, attnKeys)
			sum := b.Let(Float, "ps", Lit(0))
			for q := range p {
				p[q] = b.Let(Float, "p", b.Call(Exp, F("%s - %s", sc[q], mn)))
				b.Set(sum, F("%s + %s", sum, p[q]))
			}
			b.Set(l, F("%s * %s + %s", l, corr, sum))
			for i := range acc {
				pv := b.Let(Float, "pv", Lit(0))
				for q := range p {
					b.Set(pv, F("%s + %s * %s", pv, p[q], vd[q][i]))
				}
				b.Set(acc[i], F("%s * %s + %s", acc[i], corr, pv))
			}
			b.Set(m, mn.E())
		})
	})
	// Combine the SIMD groups' partial softmaxes in group order.
	sm := b.Shared(Float, "wmax", attnWarps)
	sl := b.Shared(Float, "wsum", attnWarps)
	sacc := b.Shared(Float, "wacc", attnWarps*hd)
	b.If(F("%s == 0", lane), func() {
		b.Stmt(F("%s[%s] = %s", sm, warp, m))
		b.Stmt(F("%s[%s] = %s", sl, warp, l))
	})
	for i := range acc {
		b.If(live(i), func() { b.Stmt(F("%s[%s * %d + %s] = %s", sacc, warp, hd, dim(i), acc[i])) })
	}
	b.Barrier()
	b.For("d", b.Tid(), I(hd), I(b.Threads), func(d Expr) {
		mx := b.Let(Float, "mx", Expr{text: "-INFINITY"})
		for w := 0; w < attnWarps; w++ {
			b.Set(mx, b.Call(Max, mx.E(), F("%s[%d]", sm, w)))
		}
		tot := b.Let(Float, "tot", Lit(0))
		o := b.Let(Float, "o", Lit(0))
		for w := 0; w < attnWarps; w++ {
			e := b.Let(Float, "e", b.Call(Exp, F("%s[%d] - %s", sm, w, mx)))
			b.Set(tot, F("%s + %s[%d] * %s", tot, sl, w, e))
			b.Set(o, F("%s + %s[%d * %d + %s] * %s", o, sacc, w, hd, d, e))
		}
		col := F("%s * %d + %s", h, hd, d)
		b.Store(&s.a.Y, F("%s * %d + %s", row, s.Heads*hd, col), c.Out(0, col, F("%s / %s", o, tot)))
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
	n := posCPU(f, &s.a.Vars) + f.Row + 1
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
			accumPV(f.Out, v, p)
			continue
		}
		corr := float32(math.Exp(float64(m - mn)))
		l = l*corr + p
		rescalePV(f.Out, v, corr, p)
		m = mn
	}
	for i := range f.Out {
		f.Out[i] /= l
	}
	f.O, f.Col0, f.OutW = 0, h*hd, s.Heads*hd
	epi()
	WriteAct(f.Args[s.a.Y.Index], s.Out, f.Row*s.Heads*hd+h*hd, f.Out)
}
