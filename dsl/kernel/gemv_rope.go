package kernel

import (
	"fmt"
	"math"
	"strings"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// GemvRope fuses RoPE into a GEMV's store (the GEMV form only): outputs 0
// and 1 (q and k: heads of HeadDim rows) are rotated at position pos + t
// (pos from the vars buffer) before they are stored, so one dispatch
// writes q_rope and k_rope (k_rope typically into its cache row, AtPos).
// The un-rotated q and k are never stored (the fused step materializes
// q_rope and k_rope, not q and k).
//
// Rotation pairs must be computed by one work item: the GEMV's rows of
// outputs 0 and 1 are taken in pair order — row slot j of the output is
// row RopePairRow(j): slots 2m and 2m+1 are the two elements of a pair,
// (i, i+Dim/2) when NeoX else (2i, 2i+1), and the elements past Dim in
// pairs of neighbours that do not rotate. On the GPU the two values meet
// in threadgroup memory after a barrier; on the CPU in the item's
// accumulators. Each value is rounded to the output's storage first and
// rotated with the Rope prologue's arithmetic (its helpers, its angles:
// Plain's powf or llama.cpp's recurrence), so the fused kernel computes
// what a GEMV storing q and k followed by the Rope/Copy kernels computes.
type GemvRope struct {
	NeoX    bool
	Dim     int // rotated elements per head (rope_dim)
	HeadDim int
	Base    float32
	Plain   bool
	inv     []float32 // Plain: powf(base, −2i/Dim), computed once
}

// RopePairRow returns the row of output slot j (see GemvRope).
func RopePairRow(j, headDim, ropeDim int, neox bool) int {
	p, e := j/2, j%2
	h, q := p/(headDim/2), p%(headDim/2)
	r := 2*q + e
	if neox && q < ropeDim/2 {
		r = q + e*ropeDim/2
	}
	return h*headDim + r
}

// ropePairSrc is RopePairRow on the GPU.
const ropePairSrc = `FN int rope_pair_row(int j, int hd, int rd, int neox) {
    int p = j / 2;
    int e = j % 2;
    int h = p / (hd / 2);
    int q = p % (hd / 2);
    int r = 2 * q + e;
    if (neox != 0 && q < rd / 2) {
        r = q + e * (rd / 2);
    }
    return h * hd + r;
}`

// ropeInclude is the rotation helpers of the Rope prologue (one include
// by name: a kernel with both shares it).
func ropeInclude() Include {
	cuda := ropeSrc
	for _, r := range [][2]string{{"pow(", "powf("}, {"cos(", "cosf("}, {"sin(", "sinf("}} {
		cuda = strings.ReplaceAll(cuda, r[0], r[1])
	}
	return Include{Name: "rope", MSL: ropeSrc, CUDA: cuda}
}

func (r *GemvRope) includes() []Include {
	return []Include{ropeInclude(), {Name: "rope_pair", MSL: ropePairSrc, CUDA: ropePairSrc}}
}

func (r *GemvRope) check(g *Gemv) error {
	switch {
	case g.Tiled:
		return fmt.Errorf("gemv: RoPE is fused into the GEMV form only")
	case g.Pair || len(g.N) < 2:
		return fmt.Errorf("gemv: RoPE rotates outputs 0 and 1 (q and k); got %d outputs (pair %v)", len(g.N), g.Pair)
	case r.HeadDim <= 0 || r.HeadDim%2 != 0 || r.Dim <= 0 || r.Dim%2 != 0 || r.Dim > r.HeadDim:
		return fmt.Errorf("gemv: RoPE of %d of %d elements per head (want both even, rope_dim ≤ head_dim)", r.Dim, r.HeadDim)
	case g.N[0]%r.HeadDim != 0 || g.N[1]%r.HeadDim != 0:
		return fmt.Errorf("gemv: RoPE outputs of %d and %d rows are not whole heads of %d", g.N[0], g.N[1], r.HeadDim)
	case g.rows()%2 != 0:
		return fmt.Errorf("gemv: RoPE needs an even number of rows per work item, got %d", g.rows())
	}
	return nil
}

// rotates says whether output o is rotated.
func (g *Gemv) rotates(o int) bool { return g.Rope != nil && o < 2 }

// rowOf returns the row of output o at slot j (generated code).
func (g *Gemv) rowOf(o int, j Expr) Expr {
	if !g.rotates(o) {
		return j
	}
	neox := 0
	if g.Rope.NeoX {
		neox = 1
	}
	return F("rope_pair_row(%s, %d, %d, %d)", j, g.Rope.HeadDim, g.Rope.Dim, neox)
}

// ropeShared returns the threadgroup array holding the rounded values of
// a work item's rows (slot order) until their partners read them.
func (g *Gemv) ropeShared(c *Ctx) *Var {
	if g.rv == nil {
		g.rv = c.B.Shared(Float, "rv", max(g.rows(), gemvWarps))
	}
	return g.rv
}

// ropeRound rounds a value to output storage, as a stored q or k is.
func (g *Gemv) ropeRound(v Expr) Expr {
	if g.Out == Half {
		return F("f16_round(%s)", v)
	}
	return v
}

// ropeStore stores the rotated value of the row at local slot loc (its
// partner at loc ^ 1) of output o, row ar, at token row dst.
func (g *Gemv) ropeStore(c *Ctx, o int, loc, ar, row Expr, n int) {
	b := c.B
	rp := g.Rope
	neox := 0
	if rp.NeoX {
		neox = 1
	}
	fn := "rope_mix"
	if rp.Plain {
		fn = "rope_mix_plain"
	}
	pos := F("(%s + %s)", posExpr(&g.a.Vars), row)
	v := F("%s(%s %% %d, %s[%s], %s[%s ^ 1], %d, %s, %s, %d)", Expr{text: fn}, ar, rp.HeadDim, g.rv, loc, g.rv, loc,
		rp.Dim, pos, Lit(rp.Base), neox)
	dst := row
	if g.atPos(o) {
		dst = F("(%s + %s)", row, posExpr(&g.a.Vars))
	}
	b.Store(g.y(o), F("%s * %d + %s", dst, n, ar), v)
}

// ropeCPU rotates the pairs of one token's values of a rotated output in
// place: vals[s] is slot r0+s (r0 even, pairs complete), already rounded
// to storage; th is scratch for 3·Dim/2 floats.
func (g *Gemv) ropeCPU(vals []float32, r0, pos int, th []float32) []float32 {
	rp := g.Rope
	h := rp.Dim / 2
	// th holds the angles, their cosines and their sines (ropePair's
	// values, computed once per pair index instead of once per pair).
	ang, cs, sn := th[:h], th[h:2*h], th[2*h:3*h]
	if rp.Plain {
		if rp.inv == nil {
			rp.inv = plainInv(rp.Dim, rp.Base)
		}
		for i, v := range rp.inv {
			ang[i] = float32(pos) * v
		}
	} else {
		ggmlnum.RopeAngles(pos, rp.Base, rp.Dim, ang)
	}
	for i, a := range ang {
		cs[i], sn[i] = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
	}
	for s := 0; s+1 < len(vals); s += 2 {
		q := ((r0 + s) / 2) % (rp.HeadDim / 2)
		if q >= h {
			continue
		}
		vals[s], vals[s+1] = ropeRot(vals[s], vals[s+1], cs[q], sn[q])
	}
	return th
}

// ropeItem finishes a CPU work item of a rotated output: per token, each
// row's epilogues (over the item's rows in row order where they are one
// range, else one row at a time: its column is its own), the rounding to
// storage, the rotation of the pairs, and the stores.
func (g *Gemv) ropeItem(f *Frame, o, t0, nt, r0, w int, acc []float32, epi func()) {
	rp := g.Rope
	n := g.N[o]
	row0 := 0
	if g.atPos(o) {
		row0 = posCPU(f, &g.a.Vars)
	}
	vals := f.Scratch(4, w)
	th := f.Scratch(5, 3*rp.Dim/2)
	rows := f.rowIx[:0]
	lo, hi := int(^uint(0)>>1), -1
	for s := 0; s < w; s++ {
		r := RopePairRow(r0+s, rp.HeadDim, rp.Dim, rp.NeoX)
		rows = append(rows, r)
		lo, hi = min(lo, r), max(hi, r)
	}
	f.rowIx = rows
	if hi-lo+1 == w {
		// The slots' rows are one range (whole heads): the epilogues
		// and the store run once over the range in row order.
		for t := 0; t < nt; t++ {
			f.Row, f.Col0 = t0+t, lo
			f.Out = grow(f.Out, w)
			for s, r := range rows {
				f.Out[r-lo] = acc[t*w+s]
			}
			epi()
			for s, r := range rows {
				vals[s] = f.Out[r-lo]
				if g.Out == Half {
					vals[s] = gguf.F16ToF32(gguf.F32ToF16(vals[s]))
				}
			}
			g.ropeCPU(vals, r0, posCPU(f, &g.a.Vars)+f.Row, th)
			for s, r := range rows {
				f.Out[r-lo] = vals[s]
			}
			WriteAct(f.Args[g.y(o).Index], g.Out, (row0+f.Row)*n+lo, f.Out)
		}
		return
	}
	for t := 0; t < nt; t++ {
		f.Row = t0 + t
		for s := 0; s < w; s++ {
			f.Col0 = RopePairRow(r0+s, rp.HeadDim, rp.Dim, rp.NeoX)
			f.Out = append(f.Out[:0], acc[t*w+s])
			epi()
			vals[s] = f.Out[0]
			if g.Out == Half {
				vals[s] = gguf.F16ToF32(gguf.F32ToF16(vals[s]))
			}
		}
		g.ropeCPU(vals, r0, posCPU(f, &g.a.Vars)+f.Row, th)
		for s := 0; s < w; s++ {
			ar := RopePairRow(r0+s, rp.HeadDim, rp.Dim, rp.NeoX)
			WriteAct(f.Args[g.y(o).Index], g.Out, (row0+f.Row)*n+ar, vals[s:s+1])
		}
	}
}
