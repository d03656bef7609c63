package kernel

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend/ggmlnum"
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
	Tokens  int   // tokens per work item; 0 means 8
	Pair    bool
	// Round rounds the fused input as llama.cpp's CPU backend quantizes
	// activations for the weight's dot product (ggmlnum.RoundForDot: f16
	// for F16, bf16 for BF16, Q8_0 blocks for the 32-element quants, Q8_K
	// blocks for k-quants), so the path computes what the reference and
	// llama.cpp compute. The rounding is fused too: block scales live in
	// threadgroup memory (GPU) or worker scratch (CPU).
	Round  bool
	scales *Var // threadgroup block scales of the input rounding
	a      struct {
		X  Buf      `dsl:"buffer"`
		W0 Buf      `dsl:"buffer"`
		W1 Buf      `dsl:"buffer"`
		W2 Buf      `dsl:"buffer"`
		Y0 Buf      `dsl:"buffer,output"`
		Y1 Buf      `dsl:"buffer,output"`
		Y2 Buf      `dsl:"buffer,output"`
		K  IntParam `dsl:"param"`
		T  IntParam `dsl:"param,dynamic,name=tokens,var=tokens"`
	}
}

func (g *Gemv) w(i int) *Buf { return []*Buf{&g.a.W0, &g.a.W1, &g.a.W2}[i] }
func (g *Gemv) y(i int) *Buf { return []*Buf{&g.a.Y0, &g.a.Y1, &g.a.Y2}[i] }

func (g *Gemv) tokens() int {
	if g.Tokens <= 0 {
		return 8
	}
	return g.Tokens
}

// GridY is the number of token blocks: a work item computes its rows for
// up to Tokens tokens, decoding each weight row once.
func (g *Gemv) GridY(rows int) int { return (rows + g.tokens() - 1) / g.tokens() }

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

// Includes returns the weight accessors (and the rounding helpers).
func (g *Gemv) Includes() []Include {
	var incs []Include
	if g.Round {
		cuda := strings.NewReplacer(" round(", " roundf(", " min(", " fminf(", " rint(", " rintf(").Replace(roundSrc)
		incs = append(incs, Include{Name: "round", MSL: roundSrc, CUDA: cuda})
	}
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
	b.For("tt", I(0), I(g.tokens()), I(1), func(tt Expr) {
		row := b.Let(Int, "row", F("%s * %d + %s", b.GroupY(), g.tokens(), tt))
		b.If(F("%s < %s", row, g.a.T.E()), func() { g.emitRow(c, row) })
	})
}

// emitRow emits the fused GEMV of one token row.
func (g *Gemv) emitRow(c *Ctx, row *Var) {
	b := c.B
	c.Row, c.InLen, c.OutW = row.E(), g.a.K.E(), g.N
	load := c.Prologues(func(k Expr) Expr { return b.Load(&g.a.X, F("%s * %s + %s", row, g.a.K.E(), k)) })
	start := 0
	for o, n := range g.N {
		nb := (n + g.rows() - 1) / g.rows()
		b.If(F("%s >= %d && %s < %d", b.GroupX(), start, b.GroupX(), start+nb), func() {
			loads := []Loader{g.rounded(c, load, g.Types[o]), nil}
			if g.Pair {
				loads[0] = g.rounded(c, load, g.Types[0])
				loads[1] = loads[0]
				if dotClass(g.Types[1]) != dotClass(g.Types[0]) {
					loads[1] = g.rounded(c, load, g.Types[1])
				}
			}
			b.For("rr", I(0), I(g.rows()), I(1), func(rr Expr) {
				r := b.Let(Int, "r", F("(%s - %d) * %d + %s", b.GroupX(), start, g.rows(), rr))
				b.If(F("%s < %d", r, n), func() {
					dot := func(i int) *Var {
						acc := b.Let(Float, "acc", Lit(0))
						b.For("k", b.Tid(), g.a.K.E(), I(b.Threads), func(k Expr) {
							li := 0
							if g.Pair {
								li = i
							}
							b.Set(acc, F("%s + %s * %s", acc, W(g.Types[i], g.w(i), I(g.rb(i)), r.E(), k), loads[li](k)))
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

// CPUItem computes one row block for one block of tokens. The fused
// inputs of the block's tokens are computed once per call and reused by
// every row block; each weight row is decoded once for all the tokens.
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
	K := g.K
	t0 := f.Y * g.tokens()
	t1 := min(f.Args[g.a.T.Index].I, t0+g.tokens())
	nt := t1 - t0
	if !f.inValid || f.inRow != f.Y {
		f.inT = grow(f.inT, nt*K)
		for t := t0; t < t1; t++ {
			f.Row = t
			f.In = f.inT[(t-t0)*K : (t-t0+1)*K]
			ReadAct(f.Args[g.a.X.Index], g.In, t*K, f.In)
			pro()
		}
		f.inValid, f.inRow = true, f.Y
		f.rndOK = [numDotClasses]bool{}
	}
	n := g.N[o]
	r0 := blk * g.rows()
	r1 := min(n, r0+g.rows())
	w := r1 - r0
	f.O, f.Col0, f.OutW = o, r0, n
	f.acc = grow(f.acc, 2*nt*w)
	acc, aux := f.acc[:nt*w], f.acc[nt*w:]
	nw := 1
	if g.Pair {
		nw = 2
	}
	for i := 0; i < nw; i++ {
		wi, dst := o, acc
		if g.Pair {
			wi = i
			if i == 1 {
				dst = aux
			}
		}
		ty, wb := g.Types[wi], f.Args[g.w(wi).Index].Bytes()
		in := g.input(f, ty)
		for r := r0; r < r1; r++ {
			if nt == 1 {
				dst[r-r0] = DotRow(ty, wb, K, r, in, f.Scratch(0, K))
				continue
			}
			row := WeightRow(ty, wb, K, r, f.Scratch(0, K))
			for t := 0; t < nt; t++ {
				dst[t*w+r-r0] = Dot(row, in[t*K:(t+1)*K])
			}
		}
	}
	for t := 0; t < nt; t++ {
		f.Row = t0 + t
		f.Out = append(f.Out[:0], acc[t*w:(t+1)*w]...)
		if g.Pair {
			f.Aux = append(f.Aux[:0], aux[t*w:(t+1)*w]...)
		}
		epi()
		WriteAct(f.Args[g.y(o).Index], g.Out, f.Row*n+r0, f.Out)
	}
}

// Dot-product classes of the input rounding (llama.cpp's vec_dot_type).
const (
	dotF32 = iota
	dotF16
	dotBF16
	dotQ8_0
	dotQ8_K
	numDotClasses
)

func dotClass(t gguf.Type) int {
	switch t {
	case gguf.TypeF32:
		return dotF32
	case gguf.TypeF16:
		return dotF16
	case gguf.TypeBF16:
		return dotBF16
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ5_1:
		return dotQ8_0
	}
	return dotQ8_K
}

// input returns the fused inputs of the item's tokens as the dot product
// with a weight of type t consumes them: f.inT, or its rounding cached per
// class.
func (g *Gemv) input(f *Frame, t gguf.Type) []float32 {
	cl := dotClass(t)
	if !g.Round || cl == dotF32 {
		return f.inT
	}
	if !f.rndOK[cl] {
		f.rnd[cl] = append(f.rnd[cl][:0], f.inT[:len(f.inT)]...)
		ggmlnum.RoundForDot(t, f.rnd[cl])
		f.rndOK[cl] = true
	}
	return f.rnd[cl]
}

const roundSrc = `FN float rnd_q8_0(float v, float amax) {
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    return rint(v * id) * f16_round(amax / 127.0f);
}
FN float rnd_q8_k(float v, float m) {
    if (m == 0.0f) {
        return 0.0f;
    }
    float s = -127.0f / m;
    return (1.0f / s) * min(127.0f, rint(s * v));
}
FN float rnd_bf16(float v) {
    uint u = f32_bits(v);
    u += 0x7fffu + ((u >> 16) & 1u);
    return bits_f32(u & 0xffff0000u);
}`

// rounded returns load with the input rounding of weight type t; for the
// block quants it first computes the block scales into threadgroup memory.
func (g *Gemv) rounded(c *Ctx, load Loader, t gguf.Type) Loader {
	if !g.Round {
		return load
	}
	b := c.B
	cl := dotClass(t)
	switch cl {
	case dotF16:
		return func(k Expr) Expr { return F("f16_round(%s)", load(k)) }
	case dotBF16:
		return func(k Expr) Expr { return F("rnd_bf16(%s)", load(k)) }
	case dotF32:
		return load
	}
	bs := 32
	if cl == dotQ8_K {
		bs = 256
	}
	sc := b.Shared(Float, "bscale", g.K/bs)
	b.For("blk", b.Tid(), I(g.K/bs), I(b.Threads), func(blk Expr) {
		amax := b.Let(Float, "amax", Lit(0))
		m := b.Let(Float, "m", Lit(0))
		b.For("j", I(0), I(bs), I(1), func(j Expr) {
			v := b.Let(Float, "v", load(F("%s * %d + %s", blk, bs, j)))
			b.If(F("%s > %s", b.Call(Abs, v.E()), amax), func() {
				b.Set(amax, b.Call(Abs, v.E()))
				b.Set(m, v.E())
			})
		})
		if cl == dotQ8_0 {
			// ggml's x86 quantize_row_q8_0: q = rint(v·(127/amax)),
			// d = f16(amax/127) (rnd_q8_0).
			b.Stmt(F("%s[%s] = %s", sc, blk, amax))
		} else {
			b.Stmt(F("%s[%s] = %s", sc, blk, m))
		}
	})
	b.Barrier()
	fn := "rnd_q8_0"
	if cl == dotQ8_K {
		fn = "rnd_q8_k"
	}
	return func(k Expr) Expr { return F("%s(%s, %s[%s / %d])", Expr{text: fn}, load(k), sc, k, bs) }
}
