package kernel

// The GPU GEMV (decode): a threadgroup of gemvWarps SIMD groups computes
// Rows output rows of one output for up to Tokens tokens, one token at a
// time (a decode step has one). For each token it
//
//  1. runs the prologues' setup (RMSNorm: one threadgroup reduction for
//     inv_rms) and, under Round, the input rounding's block scales;
//  2. stages the fused input in threadgroup memory, gemvChunk elements at
//     a time, transposed by weight unit: value j of unit u sits at
//     xs[j·CU + u], so the SIMD group's lanes, which take consecutive
//     units, read consecutive words (no bank conflicts);
//  3. gives each SIMD group its rows (warp, warp + gemvWarps, …): lane l
//     reads units l, l+32, … of the row — one 16-byte load per unit for
//     F32/F16/BF16, the packed blocks of the quantized types — up to eight
//     loads in flight per lane, decodes them in registers and accumulates
//     Σ w·x in float32;
//  4. reduces each row's 32 lane sums with a shuffle-xor ladder (a fixed
//     order: deterministic) and lane 0 applies the epilogues and stores.
//
// Every SIMD group runs the same number of reductions (rows past the
// output are computed on a clamped row and dropped), so shuffles and
// barriers stay threadgroup-uniform.

func (g *Gemv) emitGemv(c *Ctx) {
	b := c.B
	g.xs, g.part, g.rv = [2]*Var{}, nil, nil
	lane := b.Let(Int, "lane", F("%s %% 32", b.Tid()))
	warp := b.Let(Int, "warp", F("%s / 32", b.Tid()))
	g.emitPrefetch(c)
	b.For("tt", I(0), I(g.tokens()), I(1), func(tt Expr) {
		row := b.Let(Int, "row", F("%s * %d + %s", b.GroupY(), g.tokens(), tt))
		b.If(F("%s < %s", row, g.a.T.E()), func() {
			c.Row, c.InLen, c.OutW = row.E(), g.a.K.E(), g.N
			load := c.Prologues(func(k Expr) Expr { return b.Load(&g.a.X, F("%s * %d + %s", row, g.K, k)) })
			start := 0
			for o, n := range g.N {
				nb := (n + g.rows() - 1) / g.rows()
				b.If(F("%s >= %d && %s < %d", b.GroupX(), start, b.GroupX(), start+nb), func() {
					g.emitSegment(c, o, start, row, load, lane, warp)
				})
				start += nb
			}
		})
	})
}

// gemvWeight is one weight a GEMV segment multiplies.
type gemvWeight struct {
	i    int    // weight index
	u    unit   // its unit form
	load Loader // the input as its dot product consumes it
	slot int    // staging slot of that input
	rows []*Var // row pointers, one per row of the SIMD group
	acc  []*Var // accumulators, one per row
}

// emitSegment emits the rows of output o (the threadgroup's x lies in its
// row blocks, which start at block start).
func (g *Gemv) emitSegment(c *Ctx, o, start int, row *Var, load Loader, lane, warp *Var) {
	b := c.B
	n := g.N[o]
	rw := (g.rows() + gemvWarps - 1) / gemvWarps
	idx := []int{o}
	if g.Pair {
		idx = []int{0, 1}
	}
	var ws []*gemvWeight
	for k, i := range idx {
		w := &gemvWeight{i: i, u: unitOf(g.Types[i], g.K)}
		if k == 1 && dotClass(g.Types[1]) == dotClass(g.Types[0]) {
			w.load = ws[0].load
		} else {
			w.load = g.rounded(c, load, g.Types[i])
		}
		if k == 1 && (w.u.name != ws[0].u.name || (g.Round && dotClass(g.Types[1]) != dotClass(g.Types[0]))) {
			w.slot = 1
		}
		ws = append(ws, w)
	}
	// Rows of this SIMD group: r_i = block row 0 + gemvWarps·i + warp;
	// with S > 1 SIMD groups per row, r = block row 0 + warp / S, and the
	// group takes the row's units from (warp % S)·32 on, 32·S apart.
	S := g.split()
	wrow, slane := warp, lane
	if S > 1 {
		rw = 1
		wrow = b.Let(Int, "wrow", F("%s / %d", warp, S))
		slane = b.Let(Int, "slane", F("(%s %% %d) * 32 + %s", warp, S, lane))
	}
	r := make([]*Var, rw)
	ok := make([]*Var, rw)
	ar := make([]*Var, rw)  // the row of slot r_i (RoPE: pair order)
	loc := make([]Expr, rw) // the slot's index in the work item
	for i := range r {
		local := F("%d * %d + %s", gemvWarps/S, i, wrow)
		loc[i] = local
		r[i] = b.Let(Int, "r", F("(%s - %d) * %d + %s", b.GroupX(), start, g.rows(), local))
		ok[i] = b.Let(Bool, "ok", F("%s < %d && %s < %d", local, g.rows(), r[i], n))
		ar[i] = r[i]
		if g.rotates(o) {
			ar[i] = b.Let(Int, "ar", g.rowOf(o, r[i].E()))
		}
		rc := b.Let(Int, "rc", F("%s ? %s : 0", ok[i], ar[i]))
		for _, w := range ws {
			// 64-bit offsets: an LM head can pass 2 GiB.
			w.rows = append(w.rows, b.Let(wptr, "wr", F("%s + long(%s) * %d", g.w(w.i).v, rc, g.rb(w.i))))
			w.acc = append(w.acc, b.Let(Float, "acc", Lit(0)))
		}
	}
	size := min(gemvChunk, g.K)
	for _, w := range ws {
		if g.xs[w.slot] == nil {
			g.xs[w.slot] = b.Shared(Float, "xs", size)
		}
	}
	b.For("c0", I(0), I(g.K), I(gemvChunk), func(c0 Expr) {
		b.Barrier() // the previous chunk's (or token's) readers are done
		staged := map[int]bool{}
		for _, w := range ws {
			if staged[w.slot] {
				continue
			}
			staged[w.slot] = true
			g.stage(c, w, c0)
		}
		b.Barrier()
		for s := 0; s < 2; s++ {
			var group []*gemvWeight
			for _, w := range ws {
				if w.slot == s {
					group = append(group, w)
				}
			}
			if len(group) > 0 {
				g.dotChunk(c, group, c0, slane, S)
			}
		}
	})
	if S > 1 {
		g.combineSplit(c, o, n, row, ws, ar[0], ok[0], lane, warp, wrow, S)
		return
	}
	for i := range r {
		red := make([]*Var, len(ws))
		for k, w := range ws {
			red[k] = b.SimdReduce(OpAdd, w.acc[i].E())
		}
		b.If(F("%s == 0 && %s", lane, ok[i]), func() {
			if g.Pair {
				c.Aux = red[1].E()
			}
			v := c.Out(o, ar[i].E(), red[0].E())
			if g.rotates(o) {
				b.Stmt(F("%s[%s] = %s", g.ropeShared(c), loc[i], g.ropeRound(v)))
				return
			}
			dst := row.E()
			if g.atPos(o) {
				dst = F("(%s + %s)", row, posExpr(&g.a.Vars))
			}
			b.Store(g.y(o), F("%s * %d + %s", dst, n, ar[i]), v)
		})
	}
	if g.rotates(o) {
		b.Barrier() // every row of the work item is in rv
		for i := range r {
			b.If(F("%s == 0 && %s", lane, ok[i]), func() {
				g.ropeStore(c, o, loc[i], ar[i].E(), row.E(), n)
			})
		}
	}
}

// split is the number of SIMD groups that share one output row in the
// GEMV form: gemvWarps/Rows when a work item has fewer rows than SIMD
// groups (a narrow projection spreads over more threadgroups, and each
// row's K over S groups), else 1.
func (g *Gemv) split() int {
	if r := g.rows(); !g.Tiled && r < gemvWarps && gemvWarps%r == 0 {
		return gemvWarps / r
	}
	return 1
}

// combineSplit finishes the rows of a split GEMV: every SIMD group
// reduces its partial sum with the shuffle ladder, lane 0 writes it to
// threadgroup memory, and after a barrier lane 0 of the row's first group
// adds the S partials in group order (a fixed order: deterministic, no
// atomics), applies the epilogues and stores.
func (g *Gemv) combineSplit(c *Ctx, o, n int, row *Var, ws []*gemvWeight, ar, ok, lane, warp, wrow *Var, S int) {
	b := c.B
	if g.part == nil {
		g.part = b.Shared(Float, "part", 2*gemvWarps)
	}
	for k, w := range ws {
		red := b.SimdReduce(OpAdd, w.acc[0].E())
		b.If(F("%s == 0", lane), func() {
			b.Stmt(F("%s[%d + %s] = %s", g.part, k*gemvWarps, warp, red))
		})
	}
	b.Barrier()
	leader := F("%s == 0 && %s %% %d == 0 && %s", lane, warp, S, ok)
	b.If(leader, func() {
		sum := make([]*Var, len(ws))
		for k := range ws {
			sum[k] = b.Let(Float, "sum", F("%s[%d + %s]", g.part, k*gemvWarps, warp))
			for s := 1; s < S; s++ {
				b.Set(sum[k], F("%s + %s[%d + %s]", sum[k], g.part, k*gemvWarps+s, warp))
			}
		}
		if g.Pair {
			c.Aux = sum[1].E()
		}
		v := c.Out(o, ar.E(), sum[0].E())
		if g.rotates(o) {
			b.Stmt(F("%s[%s] = %s", g.ropeShared(c), wrow, g.ropeRound(v)))
			return
		}
		dst := row.E()
		if g.atPos(o) {
			dst = F("(%s + %s)", row, posExpr(&g.a.Vars))
		}
		b.Store(g.y(o), F("%s * %d + %s", dst, n, ar), v)
	})
	if g.rotates(o) {
		b.Barrier() // every row of the work item is in rv
		b.If(leader, func() {
			g.ropeStore(c, o, wrow.E(), ar.E(), row.E(), n)
		})
	}
}

// stage writes the chunk of the fused input that starts at element c0 to
// the weight's staging slot, transposed by unit.
func (g *Gemv) stage(c *Ctx, w *gemvWeight, c0 Expr) {
	b := c.B
	U := w.u.U
	cu, nu := gemvChunk/U, g.K/U
	stride := min(cu, nu)
	u0 := b.Let(Int, "u0", F("%s / %d", c0, U))
	cnt := b.Let(Int, "cu", F("%d - %s < %d ? %d - %s : %d", nu, u0, cu, nu, u0, cu))
	b.For("ul", b.Tid(), cnt.E(), I(b.Threads), func(ul Expr) {
		u := b.Let(Int, "u", F("%s + %s", u0, ul))
		for j := 0; j < U; j++ {
			b.Stmt(F("%s[%d + %s] = %s", g.xs[w.slot], j*stride, ul, w.load(w.u.elem(u.E(), j))))
		}
	})
}

// dotChunk accumulates the staged chunk into the rows of the weights of
// one slot: lane l takes units l, l+32, …, several units (loads) in
// flight; units past the chunk are read at a clamped unit and dropped.
func (g *Gemv) dotChunk(c *Ctx, ws []*gemvWeight, c0 Expr, lane *Var, S int) {
	b := c.B
	U := ws[0].u.U
	cu, nu := gemvChunk/U, g.K/U
	stride := min(cu, nu)
	xs := g.xs[ws[0].slot]
	u0 := b.Let(Int, "u0", F("%s / %d", c0, U))
	cnt := b.Let(Int, "cu", F("%d - %s < %d ? %d - %s : %d", nu, u0, cu, nu, u0, cu))
	// Up to eight weight loads per lane in flight, no more units than a
	// lane has in the chunk. The S SIMD groups of a split row are 32·S
	// lanes over the row (lane is the lane's index among them).
	L := 32 * S
	inflight := max(1, min(8/(len(ws[0].rows)*len(ws)), (stride+L-1)/L))
	b.For("ub", lane.E(), cnt.E(), I(L*inflight), func(ub Expr) {
		type slot struct {
			valid, uc *Var
			raw       [][][]*Var // [weight][row]
		}
		sl := make([]slot, inflight)
		for s := range sl {
			uu := F("%s + %d", ub, L*s)
			if s == 0 {
				sl[s].valid = b.Let(Bool, "v", Expr{text: "true"})
				sl[s].uc = b.Let(Int, "uc", ub)
			} else {
				sl[s].valid = b.Let(Bool, "v", F("%s < %s", uu, cnt))
				sl[s].uc = b.Let(Int, "uc", F("%s ? %s : %s", sl[s].valid, uu, ub))
			}
			for _, w := range ws {
				var rows [][]*Var
				for _, rp := range w.rows {
					rows = append(rows, w.u.load(b, rp.E(), F("(%s + %s)", u0, sl[s].uc)))
				}
				sl[s].raw = append(sl[s].raw, rows)
			}
		}
		for s := range sl {
			for k, w := range ws {
				for i := range w.rows {
					vals := w.u.decode(b, sl[s].raw[k][i], F("(%s + %s)", u0, sl[s].uc))
					d := b.Let(Float, "d", Lit(0))
					for j, v := range vals {
						b.Set(d, F("%s + %s * %s[%d + %s]", d, v, xs, j*stride, sl[s].uc))
					}
					if s == 0 {
						b.Set(w.acc[i], F("%s + %s", w.acc[i], d))
					} else {
						b.Set(w.acc[i], F("%s + (%s ? %s : 0.0f)", w.acc[i], sl[s].valid, d))
					}
				}
			}
		}
	})
}

// prefetchInclude asks the L2 cache for n bytes from p ahead of their loads:
// on sm_90 and later one bulk prefetch (cp.async.bulk.prefetch.L2, a
// hint: 16-byte aligned, rounded to whole 16-byte units), elsewhere and in
// Metal nothing.
var prefetchInclude = Include{Name: "prefetch",
	MSL: `FN void prefetch_l2(const device uchar* p, int n) {}`,
	CUDA: `FN void prefetch_l2(const uchar* p, int n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    unsigned long long a, g;
    a = (unsigned long long)p;
    asm("cvta.to.global.u64 %0, %1;" : "=l"(g) : "l"(a));
    unsigned long long g0 = g & ~15ull;
    unsigned int sz = (unsigned int)((g + (unsigned long long)n - g0) & ~15ull);
    if (sz > 0) {
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" :: "l"(g0), "r"(sz) : "memory");
    }
#endif
}`}

// emitPrefetch starts the work item's weight rows on their way to the L2
// before anything else (the prologue's reduction and the input staging
// take a few microseconds): one bulk prefetch per row and weight, spread
// over the threads. A decode GEMV's weights come from DRAM once per step;
// their later loads then find them in the L2.
func (g *Gemv) emitPrefetch(c *Ctx) {
	b := c.B
	start := 0
	for o, n := range g.N {
		nb := (n + g.rows() - 1) / g.rows()
		idx := []int{o}
		if g.Pair {
			idx = []int{0, 1}
		}
		b.If(F("%s >= %d && %s < %d", b.GroupX(), start, b.GroupX(), start+nb), func() {
			for _, i := range idx {
				b.For("pf", b.Tid(), I(g.rows()), I(b.Threads), func(pf Expr) {
					slot := b.Let(Int, "slot", F("(%s - %d) * %d + %s", b.GroupX(), start, g.rows(), pf))
					b.If(F("%s < %d", slot, n), func() {
						b.Stmt(F("prefetch_l2(%s + long(%s) * %d, %d)", g.w(i).v, g.rowOf(o, slot.E()), g.rb(i), g.rb(i)))
					})
				})
			}
		})
		start += nb
	}
}
