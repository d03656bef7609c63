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
// output for Tokens tokens.
//
// The GPU code has two forms. The GEMV (decode; gemv_gpu.go) gives each
// output row to one SIMD group: 16-byte weight loads (or the dtype's
// packed blocks) decoded in registers, the fused input staged in
// threadgroup memory, a fixed shuffle ladder per row. With Tiled it is a
// tiled GEMM (prefill; gemm_gpu.go): a threadgroup computes a tile of
// 64 rows × 32 tokens from weight and input tiles staged in threadgroup
// memory, each weight element loaded once per 32 tokens. The CPU twin
// computes every output with the same float32 dot product (dotLanes'
// order, dot.go: AVX-512 kernels that decode the weights in registers,
// eight rows per pass, or the pure Go definition) in both forms, so they
// differ only in their work items; on the CPU consecutive items of an
// output run as one span (cpuSpan).
type Gemv struct {
	Types   []gguf.Type // weight dtype per output (per weight with Pair)
	K       int
	N       []int // output widths (one with Pair)
	In, Out Type  // activation storage of x and y
	Rows    int   // rows per work item; 0 means the form's default
	Tokens  int   // tokens per work item; 0 means the form's default
	Pair    bool
	// Round rounds the fused input as llama.cpp's CPU backend quantizes
	// activations for the weight's dot product (ggmlnum.RoundForDot: f16
	// for F16, bf16 for BF16, Q8_0 blocks for the 32-element quants, Q8_K
	// blocks for k-quants), so the path computes what the reference and
	// llama.cpp compute. The rounding is fused too: block scales live in
	// threadgroup memory (GPU) or worker scratch (CPU). The tiled form
	// does not round (Check fails).
	Round bool
	// AtPos marks outputs whose token rows start at the call's position
	// (read from the vars buffer): a KV-cache write. Epilogues that read
	// other buffers by token row (Residual) apply to output 0, which must
	// not be marked.
	AtPos []bool
	// Tiled selects the tiled GEMM form (prefill).
	Tiled bool
	// Rope, when set, rotates outputs 0 and 1 by RoPE before storing them
	// (GEMV form only; see GemvRope).
	Rope  *GemvRope
	xs    [2]*Var         // GEMV staging slots, shared by the outputs
	part  *Var            // partial sums of a split GEMV's SIMD groups
	rv    *Var            // a work item's rounded values, for RoPE partners
	tiles map[string]*Var // GEMM tiles by role, shared by the outputs
	a     struct {
		X    Buf      `dsl:"buffer"`
		W0   Buf      `dsl:"buffer"`
		W1   Buf      `dsl:"buffer"`
		W2   Buf      `dsl:"buffer"`
		Y0   Buf      `dsl:"buffer,output"`
		Y1   Buf      `dsl:"buffer,output"`
		Y2   Buf      `dsl:"buffer,output"`
		Vars Buf      `dsl:"buffer,name=vars,var=vars"`
		K    IntParam `dsl:"param"`
		T    IntParam `dsl:"param,dynamic,name=tokens,var=tokens"`
	}
}

// Shapes of the two forms.
const (
	gemvWarps  = 8    // SIMD groups per GEMV threadgroup, one row each at a time
	gemvTokens = 8    // tokens per GEMV work item (looped on the GPU)
	gemvChunk  = 2048 // input elements staged in threadgroup memory at a time
	gemmBM     = 32   // tokens per GEMM tile
	gemmBN     = 64   // rows per GEMM tile
	gemmBK     = 32   // depth of a GEMM k-step
)

func (g *Gemv) w(i int) *Buf { return []*Buf{&g.a.W0, &g.a.W1, &g.a.W2}[i] }
func (g *Gemv) y(i int) *Buf { return []*Buf{&g.a.Y0, &g.a.Y1, &g.a.Y2}[i] }

func (g *Gemv) atPos(o int) bool { return o < len(g.AtPos) && g.AtPos[o] }

func (g *Gemv) tokens() int {
	switch {
	case g.Tiled:
		return gemmBM
	case g.Tokens > 0:
		return g.Tokens
	}
	return gemvTokens
}

// GridY is the number of token blocks: a work item computes its rows for
// up to Tokens tokens, decoding each weight row once.
func (g *Gemv) GridY(rows int) int { return (rows + g.tokens() - 1) / g.tokens() }

func (g *Gemv) rows() int {
	switch {
	case g.Tiled:
		return gemmBN
	case g.Rows > 0:
		return g.Rows
	}
	total := 0
	for _, n := range g.N {
		total += n
	}
	switch {
	case total > 32768:
		return 4 * gemvWarps // an LM head: fewer, longer threadgroups
	case total <= 1024:
		// A narrow projection (0.5B: o and down, 896 rows) would fill
		// few threadgroups: 2 rows each, every row split over 4 SIMD
		// groups (split).
		return 2
	case total <= 2048:
		return 4 // 0.5B's fused QKV, 1152 rows: 4 rows of 2 SIMD groups
	}
	return gemvWarps
}

// Name returns "gemv".
func (g *Gemv) Name() string { return "gemv" }

// Args declares x, the weights, the outputs, the vars buffer (for AtPos
// outputs) and K.
func (g *Gemv) Args() any {
	g.a.X.Elem, g.a.K.Value = g.In, g.K
	nw := len(g.Types)
	for i := 0; i < 3; i++ {
		*g.w(i) = Buf{Elem: Uchar, Omit: i >= nw}
		*g.y(i) = Buf{Elem: g.Out, Omit: i >= len(g.N)}
	}
	any := g.Rope != nil
	for o := range g.N {
		any = any || g.atPos(o)
	}
	g.a.Vars = Buf{Elem: Int, Omit: !any}
	return &g.a
}

// Includes returns the weight accessors and unit helpers (and the rounding
// helpers).
func (g *Gemv) Includes() []Include {
	var incs []Include
	if g.Round {
		cuda := strings.NewReplacer(" round(", " roundf(", " min(", " fminf(", " rint(", " rintf(").Replace(roundSrc)
		incs = append(incs, Include{Name: "round", MSL: roundSrc, CUDA: cuda})
	}
	for _, t := range g.Types {
		incs = append(incs, weightInclude(t))
		incs = append(incs, unitIncludes(t, g.K)...)
	}
	if g.Rope != nil {
		incs = append(incs, g.Rope.includes()...)
	}
	if !g.Tiled {
		incs = append(incs, prefetchInclude)
	}
	return incs
}

// Preset is the GEMV's gemvWarps SIMD groups or the GEMM's 128 threads,
// Rows rows per item.
func (g *Gemv) Preset() Preset {
	if g.Tiled {
		return Preset{Name: "gemm", Threads: 128, PerItem: g.rows()}
	}
	return Preset{Name: "gemv", Threads: 32 * gemvWarps, PerItem: g.rows()}
}

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
	if len(g.AtPos) > len(g.N) || g.atPos(0) {
		return fmt.Errorf("gemv: AtPos marks %d outputs of %d (output 0 cannot be a cache write)", len(g.AtPos), len(g.N))
	}
	if g.Tiled && g.Round {
		return fmt.Errorf("gemv: the tiled form does not round its inputs (use the GEMV form under ggml-cpu)")
	}
	if !g.Tiled && g.Rows > 64 {
		return fmt.Errorf("gemv: %d rows per work item (at most 64)", g.Rows)
	}
	for _, t := range g.Types {
		if _, err := gguf.RowBytes(t, g.K); err != nil || !t.CanDequantize() {
			return fmt.Errorf("gemv: weight dtype %s with K=%d: unsupported", t, g.K)
		}
	}
	if g.Rope != nil {
		return g.Rope.check(g)
	}
	return nil
}

func (g *Gemv) rb(i int) int { rb, _ := gguf.RowBytes(g.Types[i], g.K); return rb }

// Emit emits the GPU form: the warp-per-row GEMV or the tiled GEMM.
func (g *Gemv) Emit(c *Ctx) {
	if g.Tiled {
		g.emitTiled(c)
		return
	}
	g.emitGemv(c)
}

// CPUItem computes one row block for one block of tokens. The fused
// inputs of the block's tokens are computed once per call and reused by
// every row block; each weight row is decoded once for all the tokens.
func (g *Gemv) CPUItem(f *Frame, pro, epi func()) { g.cpuSpan(f, 1, pro, epi) }

// cpuSpanRows caps the rows one cpuSpan computes.
const cpuSpanRows = 256

// cpuSpan computes work item f.X, f.Y and up to limit−1 items after it
// that continue its output's rows for the same tokens, as one item:
// every output row is computed the same way whatever the item bounds
// (the epilogues are elementwise; cpuFunc does not call cpuSpan with row
// epilogues). It returns the number of items computed.
func (g *Gemv) cpuSpan(f *Frame, limit int, pro, epi func()) int {
	o, blk := 0, f.X
	for o < len(g.N)-1 {
		nb := (g.N[o] + g.rows() - 1) / g.rows()
		if blk < nb {
			break
		}
		blk -= nb
		o++
	}
	nblk := max(1, min(limit, (g.N[o]+g.rows()-1)/g.rows()-blk, cpuSpanRows/g.rows()))
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
	r1 := min(n, r0+nblk*g.rows())
	w := r1 - r0
	rowOf := func(j int) int { return j }
	if g.rotates(o) {
		rp := g.Rope
		rowOf = func(j int) int { return RopePairRow(j, rp.HeadDim, rp.Dim, rp.NeoX) }
	}
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
		scr := f.Scratch(0, K)
		if nt > 1 && simdDots(ty, K) == nil {
			// No in-register decoding for this dtype: dequantize each
			// row once for all the tokens (the same values and order).
			for j := 0; j < w; j++ {
				row := WeightRow(ty, wb, K, rowOf(r0+j), scr)
				for t := 0; t < nt; t++ {
					dst[t*w+j] = Dot(row, in[t*K:(t+1)*K])
				}
			}
			continue
		}
		if g.Pair && i == 0 && g.Types[1] == ty {
			// Gate and up together, eight rows at a time for all the
			// item's tokens: the rows stay in the cache while every
			// token's input streams past them.
			ub := f.Args[g.w(1).Index].Bytes()
			step := 8
			if nt == 1 {
				step = w // one call for the span (one token: nothing to reuse)
			}
			for j := 0; j < w; j += step {
				m := min(w-j, step)
				for t := 0; t < nt; t++ {
					x := in[t*K : (t+1)*K]
					pairDots(ty, wb, ub, K, r0+j, x, acc[t*w+j:t*w+j+m], aux[t*w+j:t*w+j+m], &f.pair, scr)
				}
			}
			break
		}
		g.spanDots(f, ty, wb, o, r0, w, nt, in, dst, scr)
	}
	row0 := 0
	if g.atPos(o) {
		row0 = posCPU(f, &g.a.Vars)
	}
	if g.rotates(o) {
		g.ropeItem(f, o, t0, nt, r0, w, acc, epi)
		return nblk
	}
	for t := 0; t < nt; t++ {
		f.Row = t0 + t
		f.Out = append(f.Out[:0], acc[t*w:(t+1)*w]...)
		if g.Pair {
			f.Aux = append(f.Aux[:0], aux[t*w:(t+1)*w]...)
		}
		epi()
		WriteAct(f.Args[g.y(o).Index], g.Out, (row0+f.Row)*n+r0, f.Out)
	}
	return nblk
}

// spanDots computes rows r0…r0+w−1 of output o (weight bytes wb of type
// ty) for nt tokens into dst (token-major, w per token), eight rows at a
// time for all the tokens: the rows stay in the cache while every
// token's input streams past them. A rotated output's rows (RoPE pair
// order) are computed in ascending weight-row order and scattered to
// their slots, so the weights stream as consecutive rows.
func (g *Gemv) spanDots(f *Frame, ty gguf.Type, wb []byte, o, r0, w, nt int, in, dst, scr []float32) {
	K := g.K
	step := 8
	if nt == 1 {
		step = w // one call for the span (one token: nothing to reuse)
	}
	if !g.rotates(o) {
		for j := 0; j < w; j += step {
			m := min(w-j, step)
			for t := 0; t < nt; t++ {
				rangeDots(ty, wb, K, r0+j, in[t*K:(t+1)*K], dst[t*w+j:t*w+j+m], scr)
			}
		}
		return
	}
	rp := g.Rope
	f.rowIx = f.rowIx[:0]
	lo, hi := int(^uint(0)>>1), -1
	for j := 0; j < w; j++ {
		r := RopePairRow(r0+j, rp.HeadDim, rp.Dim, rp.NeoX)
		f.rowIx = append(f.rowIx, r)
		lo, hi = min(lo, r), max(hi, r)
	}
	rows := f.rowIx
	if hi-lo+1 != w {
		// The span cuts a head: the rows are not one range.
		for j := 0; j < w; j += 8 {
			rj := rows[j:min(w, j+8)]
			for t := 0; t < nt; t++ {
				rowDots(ty, wb, K, rj, in[t*K:(t+1)*K], dst[t*w+j:t*w+j+len(rj)], scr)
			}
		}
		return
	}
	tmp := f.Scratch(3, nt*w)
	for j := 0; j < w; j += step {
		m := min(w-j, step)
		for t := 0; t < nt; t++ {
			rangeDots(ty, wb, K, lo+j, in[t*K:(t+1)*K], tmp[t*w+j:t*w+j+m], scr)
		}
	}
	for t := 0; t < nt; t++ {
		for j, r := range rows {
			dst[t*w+j] = tmp[t*w+r-lo]
		}
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
		if cl == dotF16 {
			roundF16(f.rnd[cl])
		} else {
			ggmlnum.RoundForDot(t, f.rnd[cl])
		}
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
