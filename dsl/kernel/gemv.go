package kernel

import (
	"fmt"

	"github.com/metallic-go/metallic/gguf"
)

// Gemv is the main body y_o[N_o] = W_o·x[K] for one to three weights that
// share the input (a fused QKV projection writes q, k and v in one
// dispatch). With Pair, two weights produce one output: the first
// accumulator is the value and the second is Ctx.Aux / Frame.Aux (gate
// and up for SwiGLU). Work item (x, y) computes Rows output rows of one
// output for token y.
type Gemv struct {
	Types   []gguf.Type // weight dtype per output (per weight with Pair)
	K       int
	N       []int // output widths (one with Pair)
	In, Out Type  // activation storage of x and y
	Rows    int   // rows per work item; 0 means 4
	Pair    bool
	a       struct {
		X  Buf      `dsl:"buffer"`
		W0 Buf      `dsl:"buffer"`
		W1 Buf      `dsl:"buffer"`
		W2 Buf      `dsl:"buffer"`
		Y0 Buf      `dsl:"buffer,output"`
		Y1 Buf      `dsl:"buffer,output"`
		Y2 Buf      `dsl:"buffer,output"`
		K  IntParam `dsl:"param"`
	}
}

func (g *Gemv) w(i int) *Buf { return []*Buf{&g.a.W0, &g.a.W1, &g.a.W2}[i] }
func (g *Gemv) y(i int) *Buf { return []*Buf{&g.a.Y0, &g.a.Y1, &g.a.Y2}[i] }

func (g *Gemv) rows() int {
	if g.Rows <= 0 {
		return 4
	}
	return g.Rows
}

// Name returns "gemv".
func (g *Gemv) Name() string { return "gemv" }

// Args declares x, the weights, the outputs and K.
func (g *Gemv) Args() any {
	g.a.X.Elem, g.a.K.Value = g.In, g.K
	nw := len(g.Types)
	for i := 0; i < 3; i++ {
		*g.w(i) = Buf{Elem: Uchar, Omit: i >= nw}
		*g.y(i) = Buf{Elem: g.Out, Omit: i >= len(g.N)}
	}
	return &g.a
}

// Includes returns the weight accessors.
func (g *Gemv) Includes() []Include {
	var incs []Include
	for _, t := range g.Types {
		incs = append(incs, weightInclude(t))
	}
	return incs
}

// Preset is per_row with Rows rows per item.
func (g *Gemv) Preset() Preset { return Preset{Name: "per_row", Threads: 128, PerItem: g.rows()} }

// GridX is the total number of row blocks of all outputs.
func (g *Gemv) GridX() int {
	n := 0
	for _, w := range g.N {
		n += (w + g.rows() - 1) / g.rows()
	}
	return n
}

// Check reports an inconsistent configuration.
func (g *Gemv) Check() error {
	want := len(g.N)
	if g.Pair {
		want = 2
		if len(g.N) != 1 {
			return fmt.Errorf("gemv: a pair has one output, got %d", len(g.N))
		}
	}
	if len(g.N) < 1 || len(g.N) > 3 || len(g.Types) != want {
		return fmt.Errorf("gemv: %d weights for %d outputs", len(g.Types), len(g.N))
	}
	for _, t := range g.Types {
		if _, err := gguf.RowBytes(t, g.K); err != nil || !t.CanDequantize() {
			return fmt.Errorf("gemv: weight dtype %s with K=%d: unsupported", t, g.K)
		}
	}
	return nil
}

func (g *Gemv) rb(i int) int { rb, _ := gguf.RowBytes(g.Types[i], g.K); return rb }

// Emit emits the fused GEMV: the prologues' loader is evaluated on the
// fly inside the dot-product loop.
func (g *Gemv) Emit(c *Ctx) {
	b := c.B
	row := b.Let(Int, "row", b.GroupY())
	c.Row, c.InLen, c.OutW = row.E(), g.a.K.E(), g.N
	load := c.Prologues(func(k Expr) Expr { return b.Load(&g.a.X, F("%s * %s + %s", row, g.a.K.E(), k)) })
	start := 0
	for o, n := range g.N {
		nb := (n + g.rows() - 1) / g.rows()
		b.If(F("%s >= %d && %s < %d", b.GroupX(), start, b.GroupX(), start+nb), func() {
			b.For("rr", I(0), I(g.rows()), I(1), func(rr Expr) {
				r := b.Let(Int, "r", F("(%s - %d) * %d + %s", b.GroupX(), start, g.rows(), rr))
				b.If(F("%s < %d", r, n), func() {
					dot := func(i int) *Var {
						acc := b.Let(Float, "acc", Lit(0))
						b.For("k", b.Tid(), g.a.K.E(), I(b.Threads), func(k Expr) {
							b.Set(acc, F("%s + %s * %s", acc, W(g.Types[i], g.w(i), I(g.rb(i)), r.E(), k), load(k)))
						})
						return b.BlockReduce(OpAdd, acc.E())
					}
					if g.Pair {
						v0, v1 := dot(0), dot(1)
						c.Aux = v1.E()
						g.store(c, o, n, row, r, v0)
					} else {
						g.store(c, o, n, row, r, dot(o))
					}
				})
			})
		})
		start += nb
	}
}

func (g *Gemv) store(c *Ctx, o, n int, row, r, v *Var) {
	b := c.B
	b.If(F("%s == 0", b.Tid()), func() {
		b.Store(g.y(o), F("%s * %d + %s", row, n, r), c.Out(o, r.E(), v.E()))
	})
}

// CPUItem computes one row block.
func (g *Gemv) CPUItem(f *Frame, pro, epi func()) {
	o, blk := 0, f.X
	for o < len(g.N)-1 {
		nb := (g.N[o] + g.rows() - 1) / g.rows()
		if blk < nb {
			break
		}
		blk -= nb
		o++
	}
	// Items of one call that share the token row share the fused input:
	// the prologues run once per row and call, in this worker's scratch.
	if !f.inValid || f.inRow != f.Y {
		f.Row = f.Y
		f.In = grow(f.In, g.K)
		ReadAct(f.Args[g.a.X.Index], g.In, f.Row*g.K, f.In)
		pro()
		f.inValid, f.inRow = true, f.Y
	}
	n := g.N[o]
	r0 := blk * g.rows()
	r1 := min(n, r0+g.rows())
	f.O, f.Col0, f.OutW = o, r0, n
	f.Out = grow(f.Out, r1-r0)
	wi := o
	if g.Pair {
		wi = 0
		f.Aux = grow(f.Aux, r1-r0)
	}
	wb := f.Args[g.w(wi).Index].Bytes()
	for r := r0; r < r1; r++ {
		f.Out[r-r0] = DotRow(g.Types[wi], wb, g.K, r, f.In, f.Scratch(0, g.K))
	}
	if g.Pair {
		wb := f.Args[g.w(1).Index].Bytes()
		for r := r0; r < r1; r++ {
			f.Aux[r-r0] = DotRow(g.Types[1], wb, g.K, r, f.In, f.Scratch(0, g.K))
		}
	}
	epi()
	WriteAct(f.Args[g.y(o).Index], g.Out, f.Row*n+r0, f.Out)
}
