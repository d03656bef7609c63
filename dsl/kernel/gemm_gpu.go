package kernel

import "fmt"

// The GPU tiled GEMM (prefill, Gemv.Tiled): a threadgroup of 128 threads
// computes a tile of gemmBN = 64 output rows × gemmBM = 32 tokens of one
// output. It
//
//  1. computes the prologues' row statistics (RMSNorm's inv_rms) of its
//     32 tokens, one SIMD group per token, into threadgroup memory;
//  2. walks K in steps of gemmBK = 32: stages the fused input tile
//     (32 k × 32 tokens, coalesced along k) and the weight tile (32 k ×
//     64 rows, decoded from 16-byte loads for F32/F16/BF16/Q8_0/Q4_0, the
//     element accessor for the k-quants) as float in threadgroup memory,
//     then each thread accumulates its 4 tokens × 4 rows with two float4
//     reads per k (the token reads are broadcasts);
//  3. applies the epilogues and stores its 16 outputs.
//
// Each weight element is read from memory once per 32 tokens and each
// input element once per 64 rows. The summation order of an output is
// fixed (k ascending), so results are deterministic.

func (g *Gemv) emitTiled(c *Ctx) {
	b := c.B
	for _, p := range c.pros {
		if _, ok := p.(RowStats); !ok {
			b.errs = append(b.errs, fmt.Errorf("gemv: the tiled form cannot apply prologue %s (it needs RowStats)", p.Name()))
			return
		}
	}
	c.InLen, c.OutW = I(g.K), g.N
	g.tiles = map[string]*Var{}
	start := 0
	for o, n := range g.N {
		nb := (n + gemmBN - 1) / gemmBN
		b.If(F("%s >= %d && %s < %d", b.GroupX(), start, b.GroupX(), start+nb), func() { g.emitTile(c, o, start) })
		start += nb
	}
}

// emitTile emits one output's tile.
func (g *Gemv) emitTile(c *Ctx, o, start int) {
	b := c.B
	n := g.N[o]
	const xst, wst = gemmBM/4 + 1, gemmBN/4 + 1 // padded f4 strides of the tiles
	lane := b.Let(Int, "lane", F("%s %% 32", b.Tid()))
	warp := b.Let(Int, "warp", F("%s / 32", b.Tid()))
	tx := b.Let(Int, "tx", F("%s %% 16", b.Tid()))
	ty := b.Let(Int, "ty", F("%s / 16", b.Tid()))
	t0 := b.Let(Int, "t0", F("%s * %d", b.GroupY(), gemmBM))
	r0 := b.Let(Int, "r0", F("(%s - %d) * %d", b.GroupX(), start, gemmBN))
	clampT := func(tl Expr) Expr {
		return F("(%s + %s < %s ? %s + %s : %s - 1)", t0, tl, g.a.T.E(), t0, tl, g.a.T.E())
	}
	// The fused input of token row t after the first p prologues, whose
	// statistics of local token tl are in stats.
	var stats []*Var
	loader := func(t, tl Expr, p int) Loader {
		return func(k Expr) Expr {
			v := b.Load(&g.a.X, F("%s * %d + %s", t, g.K, k))
			for q := 0; q < p; q++ {
				v = c.pros[q].(RowStats).Transform(c, k, v, F("%s[%s]", stats[q], tl))
			}
			return v
		}
	}
	for p, pro := range c.pros {
		st := g.shared(b, fmt.Sprint("stat", p), Float, gemmBM)
		b.For("e", I(0), I(gemmBM/4), I(1), func(e Expr) {
			tl := b.Let(Int, "tl", F("%s * 4 + %s", e, warp))
			t := b.Let(Int, "t", clampT(tl.E()))
			sum := b.Let(Float, "sum", Lit(0))
			ld := loader(t.E(), tl.E(), p)
			b.For("k", lane.E(), I(g.K), I(32), func(k Expr) {
				v := b.Let(Float, "v", ld(k))
				b.Set(sum, F("%s + %s", sum, pro.(RowStats).Term(v.E())))
			})
			red := b.SimdReduce(OpAdd, sum.E())
			b.If(F("%s == 0", lane), func() { b.Stmt(F("%s[%s] = %s", st, tl, pro.(RowStats).Finish(c, red.E(), I(g.K)))) })
		})
		stats = append(stats, st)
		b.Barrier()
	}
	idx := []int{o}
	if g.Pair {
		idx = []int{0, 1}
	}
	xt := g.shared(b, "xt", F4, gemmBK*xst)
	wt := make([]*Var, len(idx))
	acc := make([][]*Var, len(idx)) // [weight][4·i + j]
	rowp := make([]func(rl Expr) Expr, len(idx))
	for k, wi := range idx {
		wt[k] = g.shared(b, fmt.Sprint("wt", k), F4, gemmBK*wst)
		for e := 0; e < 16; e++ {
			acc[k] = append(acc[k], b.Let(Float, "acc", Lit(0)))
		}
		w, rb := g.w(wi), g.rb(wi)
		rowp[k] = func(rl Expr) Expr {
			return F("(%s + long(%s + %s < %d ? %s + %s : %d) * %d)", w.v, r0, rl, n, r0, rl, n-1, rb)
		}
	}
	compute := func() {
		b.Unroll()
		b.For("kk", I(0), I(gemmBK), I(1), func(kk Expr) {
			a := b.Let(F4, "a", F("%s[%s * %d + %s]", xt, kk, xst, ty))
			for k := range idx {
				w := b.Let(F4, "bw", F("%s[%s * %d + %s]", wt[k], kk, wst, tx))
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						b.Set(acc[k][4*i+j], F("%s + %s[%d] * %s[%d]", acc[k][4*i+j], a, i, w, j))
					}
				}
			}
		})
	}
	if g.pipelined(idx) {
		g.pipelinedLoop(c, idx, xt, wt, rowp, clampT, lane, warp, compute)
	} else {
		b.For("k0", I(0), I(g.K), I(gemmBK), func(k0 Expr) {
			// Input tile: element (kk, tl) at float 4·(kk·xst) + tl.
			b.For("e", I(0), I(gemmBM/4), I(1), func(e Expr) {
				tl := b.Let(Int, "tl", F("%s * 4 + %s", e, warp))
				t := b.Let(Int, "t", clampT(tl.E()))
				k := b.Let(Int, "k", F("%s + %s", k0, lane))
				v := b.Let(Float, "xv", F("%s < %d ? %s : 0.0f", k, g.K, loader(t.E(), tl.E(), len(c.pros))(k.E())))
				b.Stmt(F("%s[%s * %d + %s / 4][%s %% 4] = %s", xt, lane, xst, tl, tl, v))
			})
			for k, wi := range idx {
				g.stageWeightTile(c, wi, wt[k], rowp[k], k0, lane, warp)
			}
			b.Barrier()
			compute()
			b.Barrier()
		})
	}
	for i := 0; i < 4; i++ {
		t := b.Let(Int, "t", F("%s + %s * 4 + %d", t0, ty, i))
		b.If(F("%s < %s", t, g.a.T.E()), func() {
			c.Row = t.E()
			dst := t.E()
			if g.atPos(o) {
				dst = F("(%s + %s)", t, posExpr(&g.a.Vars))
			}
			for j := 0; j < 4; j++ {
				r := b.Let(Int, "r", F("%s + %s * 4 + %d", r0, tx, j))
				b.If(F("%s < %d", r, n), func() {
					if g.Pair {
						c.Aux = acc[1][4*i+j].E()
					}
					b.Store(g.y(o), F("%s * %d + %s", dst, n, r), c.Out(o, r.E(), acc[0][4*i+j].E()))
				})
			}
		})
	}
}

// stageWeightTile writes rows r0…r0+63, elements k0…k0+31 of weight wi to
// the tile wt (element (kk, rl) at float 4·(kk·wst) + rl), as float; zeros
// past K.
func (g *Gemv) stageWeightTile(c *Ctx, wi int, wt *Var, rowp func(Expr) Expr, k0 Expr, lane, warp *Var) {
	b := c.B
	const wst = gemmBN/4 + 1
	u := unitOf(g.Types[wi], g.K)
	put := func(kk, rl, v Expr) {
		b.Stmt(F("%s[%s * %d + %s / 4][%s %% 4] = %s", wt, kk, wst, rl, rl, v))
	}
	if u.U != 4 && u.U != 8 {
		// Element accessor: lane = kk, SIMD group w takes rows w, w+4, ….
		b.For("e", I(0), I(gemmBN/4), I(1), func(e Expr) {
			rl := b.Let(Int, "rl", F("%s * 4 + %s", e, warp))
			k := b.Let(Int, "k", F("%s + %s", k0, lane))
			v := F("%s < %d ? %s(%s, 0, 0, %s) : 0.0f", k, g.K, Expr{text: weightFn(g.Types[wi])}, rowp(rl.E()), k)
			put(lane.E(), rl.E(), v)
		})
		return
	}
	// Units of 4 or 8 values inside the 32-element slice (a multiple of
	// the dtype's block): thread item (rl, uq), uq the unit of the slice.
	per := gemmBK / u.U
	items := gemmBN * per
	b.For("e", b.Tid(), I(items), I(b.Threads), func(e Expr) {
		rl := b.Let(Int, "rl", F("%s / %d", e, per))
		uq := b.Let(Int, "uq", F("%s %% %d", e, per))
		un := b.Let(Int, "un", F("%s / %d + %s", k0, u.U, uq))
		valid := b.Let(Bool, "valid", F("%s < %d", un, g.K/u.U))
		uc := b.Let(Int, "uc", F("%s ? %s : 0", valid, un))
		rp := b.Let(wptr, "wr", rowp(rl.E()))
		vals := u.decode(b, u.load(b, rp.E(), uc.E()), uc.E())
		for j, v := range vals {
			kk := F("(%s - %s)", u.elem(un.E(), j), k0)
			put(kk, rl.E(), F("%s ? %s : 0.0f", valid, v))
		}
	})
}

// shared returns the threadgroup array of the given role, declaring it
// the first time: the outputs' tiles (one output per threadgroup) share
// their arrays, so a three-output GEMM needs no more threadgroup memory
// than a one-output one (Metal allows 32 KiB).
func (g *Gemv) shared(b *Builder, role string, t Type, n int) *Var {
	if v, ok := g.tiles[role]; ok {
		return v
	}
	v := b.Shared(t, role, n)
	g.tiles[role] = v
	return v
}

// pipelined says the tiles of the weights idx can be staged through
// registers a step ahead: every weight has a unit form of 4 or 8 values
// (F32, F16, BF16, Q8_0, Q4_0), so a thread's share of a weight tile is a
// fixed number of unit loads.
func (g *Gemv) pipelined(idx []int) bool {
	for _, wi := range idx {
		if u := unitOf(g.Types[wi], g.K); u.U != 4 && u.U != 8 {
			return false
		}
	}
	return true
}

// pipelinedLoop is the k loop with the next step's tiles loaded into
// registers while the current one is computed: each step stores the
// registers loaded during the previous one (the input transformed by the
// prologues, the weights decoded) to threadgroup memory, waits, issues the
// loads of the next step, computes, and waits again. The loads of a step
// are thus in flight during a step of arithmetic instead of in front of
// it. What is stored and summed is what the plain loop stores and sums.
func (g *Gemv) pipelinedLoop(c *Ctx, idx []int, xt *Var, wt []*Var, rowp []func(Expr) Expr,
	clampT func(Expr) Expr, lane, warp *Var, compute func()) {
	b := c.B
	const xst, wst = gemmBM/4 + 1, gemmBN/4 + 1
	// The input: thread (warp, lane) holds element k0+lane of local
	// tokens 4e+warp, e < gemmBM/4, untransformed.
	loadX := func(k0 Expr) []*Var {
		var xs []*Var
		for e := 0; e < gemmBM/4; e++ {
			tl := F("(%d + %s)", 4*e, warp)
			k := F("(%s + %s)", k0, lane)
			xs = append(xs, b.Let(Float, "xr", F("%s < %d ? %s : 0.0f", k, g.K, b.Load(&g.a.X, F("%s * %d + %s", clampT(tl), g.K, k)))))
		}
		return xs
	}
	storeX := func(k0 Expr, xs []*Var) {
		for e, x := range xs {
			tl := b.Let(Int, "tl", F("%d + %s", 4*e, warp))
			k := b.Let(Int, "k", F("%s + %s", k0, lane))
			v := x.E()
			for q, p := range c.pros {
				v = p.(RowStats).Transform(c, k.E(), v, F("%s[%s]", g.tiles[fmt.Sprint("stat", q)], tl))
			}
			b.Stmt(F("%s[%s * %d + %s / 4][%s %% 4] = %s", xt, lane, xst, tl, tl, F("%s < %d ? %s : 0.0f", k, g.K, v)))
		}
	}
	// A weight: thread tid holds items tid + 128m (row rl, unit uq of the
	// 32-element slice) as loaded registers.
	type witem struct{ raw []*Var }
	items := func(wi int) (unit, int) {
		u := unitOf(g.Types[wi], g.K)
		return u, gemmBN * (gemmBK / u.U) / b.Threads
	}
	place := func(wi int, m int, k0 Expr) (rl, un, valid, uc *Var) {
		u, _ := items(wi)
		per := gemmBK / u.U
		e := F("(%s + %d)", b.Tid(), m*b.Threads)
		rl = b.Let(Int, "rl", F("%s / %d", e, per))
		un = b.Let(Int, "un", F("%s / %d + %s %% %d", k0, u.U, e, per))
		valid = b.Let(Bool, "valid", F("%s < %d", un, g.K/u.U))
		uc = b.Let(Int, "uc", F("%s ? %s : 0", valid, un))
		return rl, un, valid, uc
	}
	loadW := func(k0 Expr) [][]witem {
		out := make([][]witem, len(idx))
		for k, wi := range idx {
			u, n := items(wi)
			for m := 0; m < n; m++ {
				rl, _, _, uc := place(wi, m, k0)
				rp := b.Let(wptr, "wr", rowp[k](rl.E()))
				out[k] = append(out[k], witem{raw: u.load(b, rp.E(), uc.E())})
			}
		}
		return out
	}
	storeW := func(k0 Expr, ws [][]witem) {
		for k, wi := range idx {
			u, _ := items(wi)
			for m, it := range ws[k] {
				rl, un, valid, uc := place(wi, m, k0)
				for j, v := range u.decode(b, it.raw, uc.E()) {
					kk := F("(%s - %s)", u.elem(un.E(), j), k0)
					b.Stmt(F("%s[%s * %d + %s / 4][%s %% 4] = %s", wt[k], kk, wst, rl, rl, F("%s ? %s : 0.0f", valid, v)))
				}
			}
		}
	}
	xs, ws := loadX(I(0)), loadW(I(0))
	b.For("k0", I(0), I(g.K), I(gemmBK), func(k0 Expr) {
		storeX(k0, xs)
		storeW(k0, ws)
		b.Barrier()
		next := F("(%s + %d)", k0, gemmBK)
		nx, nw := loadX(next), loadW(next)
		compute()
		b.Barrier()
		for i := range xs {
			b.Set(xs[i], nx[i].E())
		}
		for k := range ws {
			for m := range ws[k] {
				for r := range ws[k][m].raw {
					b.Set(ws[k][m].raw[r], nw[k][m].raw[r].E())
				}
			}
		}
	})
}
