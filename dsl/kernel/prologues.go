package kernel

import (
	"math"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// RMSNorm is a prologue scaling the input by inv_rms = 1/√(mean(x²)+eps)
// and the gain γ (a weight vector of dtype Gamma). It normalizes whatever
// input vector the main reads: a whole row, or one head for per-head norms.
type RMSNorm struct {
	Gamma gguf.Type
	Eps   float32
	a     struct {
		Gamma Buf        `dsl:"buffer"`
		Eps   FloatParam `dsl:"param"`
	}
}

// Name returns "rmsnorm".
func (s *RMSNorm) Name() string { return "rmsnorm" }

// Args declares γ and eps.
func (s *RMSNorm) Args() any {
	s.a.Gamma.Elem, s.a.Eps.Value = Uchar, s.Eps
	return &s.a
}

// Includes returns γ's accessor.
func (s *RMSNorm) Includes() []Include { return []Include{weightInclude(s.Gamma)} }

// Setup computes inv_rms with a threadgroup reduction and returns the
// loader x·inv_rms·γ evaluated on the fly.
func (s *RMSNorm) Setup(c *Ctx, load Loader) Loader {
	b := c.B
	ss := b.Let(Float, "ss", Lit(0))
	b.For("k", b.Tid(), c.InLen, I(b.Threads), func(k Expr) {
		v := b.Let(Float, "v", load(k))
		b.Set(ss, F("%s + %s", ss, s.Term(v.E())))
	})
	tot := b.BlockReduce(OpAdd, ss.E())
	inv := b.Let(Float, "inv_rms", s.Finish(c, tot.E(), c.InLen))
	return func(k Expr) Expr { return s.Transform(c, k, load(k), inv.E()) }
}

// Term is v², a term of the sum of squares.
func (s *RMSNorm) Term(v Expr) Expr { return F("%s * %s", v, v) }

// Finish returns inv_rms = rsqrt(sum/n + eps).
func (s *RMSNorm) Finish(c *Ctx, sum, n Expr) Expr {
	return c.B.Call(Rsqrt, F("%s / float(%s) + %s", sum, n, s.a.Eps.E()))
}

// Transform returns (v·inv_rms)·γ[k].
func (s *RMSNorm) Transform(c *Ctx, k, v, inv Expr) Expr {
	return F("(%s * %s * %s)", v, inv, W(s.Gamma, &s.a.Gamma, I(0), I(0), k))
}

// CPU normalizes f.In in place, with the reference's arithmetic: squares
// in float32 summed in float64, inv_rms = 1/√(f32(mean)+eps), (x·inv)·γ.
func (s *RMSNorm) CPU(f *Frame) {
	var ss float64
	for _, v := range f.In {
		ss += float64(v * v)
	}
	inv := float32(1 / math.Sqrt(float64(float32(ss/float64(len(f.In)))+s.Eps)))
	g := WeightRow(s.Gamma, f.Args[s.a.Gamma.Index].Bytes(), len(f.In), 0, f.Scratch(1, len(f.In)))
	for i, v := range f.In {
		f.In[i] = (v * inv) * g[i]
	}
}

// Embed is a prologue that gathers the input row from an embedding table
// (a weight of dtype Table, K columns) at the token id of the item's row.
// It replaces the main's input loader.
type Embed struct {
	Table gguf.Type
	K     int
	a     struct {
		Table Buf      `dsl:"buffer"`
		Ids   Buf      `dsl:"buffer"`
		RB    IntParam `dsl:"param"`
	}
}

// Name returns "embed".
func (s *Embed) Name() string { return "embed" }

// Args declares the table, the token ids and the row bytes.
func (s *Embed) Args() any {
	rb, _ := gguf.RowBytes(s.Table, s.K)
	s.a.Table.Elem, s.a.Ids.Elem, s.a.RB.Value = Uchar, Int, rb
	return &s.a
}

// Includes returns the table's accessor.
func (s *Embed) Includes() []Include { return []Include{weightInclude(s.Table)} }

// Setup returns the table loader.
func (s *Embed) Setup(c *Ctx, _ Loader) Loader {
	b := c.B
	tok := b.Let(Int, "tok", F("%s[%s]", s.a.Ids.v, c.Row))
	return func(k Expr) Expr { return W(s.Table, &s.a.Table, s.a.RB.E(), tok.E(), k) }
}

// CPU fills f.In with the dequantized table row.
func (s *Embed) CPU(f *Frame) {
	tok := int(f.Args[s.a.Ids.Index].I32()[f.Row])
	row := WeightRow(s.Table, f.Args[s.a.Table.Index].Bytes(), s.K, tok, f.Scratch(1, s.K))
	copy(f.In, row)
}

// Rope is a prologue rotating the input vector (one head) by RoPE at
// position pos + row: pairs (i, i+Dim/2) when NeoX, else (2i, 2i+1); only
// the first Dim elements rotate. pos is read from the vars buffer (slot
// VarPos). Plain selects the angles of the plain numerics contract,
// θ_i = float32(pos)·powf(base, −2i/Dim) with library sin/cos; otherwise
// llama.cpp's float32 recurrence θ_{i+1} = θ_i·base^(−2/Dim) (ggml-cpu).
type Rope struct {
	NeoX  bool
	Dim   int
	Base  float32
	Plain bool
	inv   []float32 // plain: powf(base, −2i/Dim), computed once
	a     struct {
		Vars Buf        `dsl:"buffer,name=vars,var=vars"`
		Dim  IntParam   `dsl:"param"`
		Base FloatParam `dsl:"param"`
		NeoX IntParam   `dsl:"param"`
	}
}

// Name returns "rope".
func (s *Rope) Name() string { return "rope" }

// Args declares the vars buffer and the rotation constants.
func (s *Rope) Args() any {
	s.a.Vars = varsBuf()
	s.a.Dim.Value, s.a.Base.Value = s.Dim, s.Base
	s.a.NeoX.Value = 0
	if s.NeoX {
		s.a.NeoX.Value = 1
	}
	if s.Plain {
		s.inv = plainInv(s.Dim, s.Base)
	}
	return &s.a
}

// ropeSrc holds the rotation helpers: rope_partner (the index paired with
// k), rope_mix (llama.cpp's recurrence of angles, a sequential loop) and
// rope_mix_plain (one powf per angle, the plain contract).
const ropeSrc = `FN int rope_partner(int k, int rd, int neox) {
    if (k >= rd) {
        return k;
    }
    if (neox != 0) {
        return k < rd / 2 ? k + rd / 2 : k - rd / 2;
    }
    return k ^ 1;
}
FN float rope_rot(int k, float a, float b, float theta, int rd, int neox) {
    bool first = neox != 0 ? k < rd / 2 : (k % 2) == 0;
    float c = cos(theta);
    float sn = sin(theta);
    return first ? a * c - b * sn : b * sn + a * c;
}
FN float rope_mix(int k, float a, float b, int rd, int pos, float base, int neox) {
    if (k >= rd) {
        return a;
    }
    int i = neox != 0 ? k % (rd / 2) : k / 2;
    // llama.cpp's angles: a float32 recurrence theta_{i+1} = theta_i * s.
    float s = pow(base, -2.0f / float(rd));
    float theta = float(pos);
    for (int j = 0; j < i; j++) {
        theta *= s;
    }
    return rope_rot(k, a, b, theta, rd, neox);
}
FN float rope_mix_plain(int k, float a, float b, int rd, int pos, float base, int neox) {
    if (k >= rd) {
        return a;
    }
    int i = neox != 0 ? k % (rd / 2) : k / 2;
    // The plain contract: theta_i = float(pos) * powf(base, -2i/rd).
    float inv = pow(base, float(-2 * i) / float(rd));
    return rope_rot(k, a, b, float(pos) * inv, rd, neox);
}`

// Includes returns the rotation helpers.
func (s *Rope) Includes() []Include { return []Include{ropeInclude()} }

// Setup returns the rotating loader; it reads the partner element through
// the previous loader, so a preceding per-head RMSNorm is applied first.
func (s *Rope) Setup(c *Ctx, load Loader) Loader {
	b := c.B
	pos := b.Let(Int, "pos", F("%s + %s", posExpr(&s.a.Vars), c.Row))
	fn := "rope_mix"
	if s.Plain {
		fn = "rope_mix_plain"
	}
	return func(k Expr) Expr {
		p := F("rope_partner(%s, %s, %s)", k, s.a.Dim.E(), s.a.NeoX.E())
		return F("%s(%s, %s, %s, %s, %s, %s, %s)", Expr{text: fn}, k, load(k), load(p), s.a.Dim.E(), pos, s.a.Base.E(), s.a.NeoX.E())
	}
}

// CPU rotates f.In in place.
func (s *Rope) CPU(f *Frame) {
	pos := posCPU(f, &s.a.Vars) + f.Row
	if s.Plain {
		var buf [256]float32
		th := buf[:0]
		if len(s.inv) <= len(buf) {
			th = buf[:len(s.inv)]
		} else {
			th = make([]float32, len(s.inv))
		}
		for i, v := range s.inv {
			th[i] = float32(pos) * v
		}
		rotate(f.In, th, s.Dim, s.NeoX)
		return
	}
	RopeRow(f.In, pos, s.Dim, s.Base, s.NeoX)
}

// RopeRow rotates one head vector x in place at position pos, with
// llama.cpp's float32 angles (ggmlnum.RopeAngles): the ggml-cpu profile.
func RopeRow(x []float32, pos, rd int, base float32, neox bool) {
	var buf [256]float32
	th := buf[:0]
	if rd/2 <= len(buf) {
		th = buf[:rd/2]
	} else {
		th = make([]float32, rd/2)
	}
	ggmlnum.RopeAngles(pos, base, rd, th)
	rotate(x, th, rd, neox)
}

// RopeRowPlain rotates one head vector x in place at position pos with
// the plain contract's angles: inv_i = powf(base, −2i/rd) in float32,
// θ_i = float32(pos)·inv_i rounded to float32, cos and sin of θ_i.
func RopeRowPlain(x []float32, pos, rd int, base float32, neox bool) {
	var buf [256]float32
	th := buf[:0]
	if rd/2 <= len(buf) {
		th = buf[:rd/2]
	} else {
		th = make([]float32, rd/2)
	}
	for i, v := range plainInv(rd, base) {
		th[i] = float32(pos) * v
	}
	rotate(x, th, rd, neox)
}

// plainInv returns inv_i = powf(base, −2i/rd), i < rd/2, in float32 (the
// exponent rounded to float32 first, as the plain contract's powf gets it).
func plainInv(rd int, base float32) []float32 {
	inv := make([]float32, rd/2)
	for i := range inv {
		inv[i] = float32(math.Pow(float64(base), float64(float32(-2*i)/float32(rd))))
	}
	return inv
}

func rotate(x, th []float32, rd int, neox bool) {
	for i := 0; i < rd/2; i++ {
		a, b := 2*i, 2*i+1
		if neox {
			a, b = i, i+rd/2
		}
		x[a], x[b] = ropePair(x[a], x[b], th[i])
	}
}

// ropePair rotates the pair (x0, x1) by angle th (float32 cos and sin of
// the float32 angle): the one rotation of the Rope prologue and the GEMV's
// fused RoPE.
func ropePair(x0, x1, th float32) (float32, float32) {
	return ropeRot(x0, x1, float32(math.Cos(float64(th))), float32(math.Sin(float64(th))))
}

// ropeRot rotates the pair (x0, x1) by the angle whose cosine and sine
// are c and sn.
func ropeRot(x0, x1, c, sn float32) (float32, float32) {
	return x0*c - x1*sn, x0*sn + x1*c
}
