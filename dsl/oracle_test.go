package dsl

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// oracle64 is an unfused float64 forward over exactly dequantized weights
// from position 0; it returns every checkpoint by full name.
func oracle64(t testing.TB, m *model.Model, tokens []int32) map[string][]float64 {
	t.Helper()
	c := &m.Config
	deq := func(w *model.Weight) []float64 {
		out := make([]float64, w.K*w.N)
		if err := gguf.DequantizeF64(w.Type, w.Data, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	T, d, hd := len(tokens), c.Dim, c.HeadDim
	res := map[string][]float64{}
	put := func(kind string, layer int, rows [][]float64) {
		var flat []float64
		for _, r := range rows {
			flat = append(flat, r...)
		}
		res[model.CheckpointName(kind, layer)] = flat
	}
	norm := func(x, g []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+float64(c.NormEps))
		o := make([]float64, len(x))
		for i := range x {
			o[i] = x[i] * inv * g[i]
		}
		return o
	}
	mv := func(w *model.Weight, wv []float64, x []float64) []float64 {
		o := make([]float64, w.N)
		for r := range o {
			var s float64
			for i := 0; i < w.K; i++ {
				s += wv[r*w.K+i] * x[i]
			}
			o[r] = s
		}
		return o
	}
	each := func(in [][]float64, f func(x []float64) []float64) [][]float64 {
		out := make([][]float64, len(in))
		for i, x := range in {
			out[i] = f(x)
		}
		return out
	}
	embd := deq(&m.Weights.Embd)
	x := make([][]float64, T)
	for i, tok := range tokens {
		x[i] = append([]float64(nil), embd[int(tok)*d:int(tok+1)*d]...)
	}
	put("embd", -1, x)
	for l, L := range m.Weights.Layers {
		an := deq(&L.AttnNorm)
		h := each(x, func(v []float64) []float64 { return norm(v, an) })
		put("attn_norm", l, h)
		proj := func(w, b *model.Weight) [][]float64 {
			wv := deq(w)
			var bv []float64
			if b.Data != nil {
				bv = deq(b)
			}
			return each(h, func(v []float64) []float64 {
				o := mv(w, wv, v)
				for i := range bv {
					o[i] += bv[i]
				}
				return o
			})
		}
		q, k, v := proj(&L.Q, &L.QBias), proj(&L.K, &L.KBias), proj(&L.V, &L.VBias)
		put("q", l, q)
		put("k", l, k)
		put("v", l, v)
		headwise := func(rows [][]float64, f func(pos int, head []float64)) [][]float64 {
			out := make([][]float64, len(rows))
			for p, r := range rows {
				out[p] = append([]float64(nil), r...)
				for s := 0; s < len(r); s += hd {
					f(p, out[p][s:s+hd])
				}
			}
			return out
		}
		if c.QKNorm {
			qn, kn := deq(&L.QNorm), deq(&L.KNorm)
			q = headwise(q, func(_ int, x []float64) { copy(x, norm(x, qn)) })
			k = headwise(k, func(_ int, x []float64) { copy(x, norm(x, kn)) })
			put("q_norm", l, q)
			put("k_norm", l, k)
		}
		rope := func(pos int, x []float64) {
			rd := c.RopeDim
			for i := 0; i < rd/2; i++ {
				th := float64(pos) * math.Pow(float64(c.RopeBase), -2*float64(i)/float64(rd))
				a, b := 2*i, 2*i+1
				if c.RopeStyle == model.RopeNeoX {
					a, b = i, i+rd/2
				}
				x0, x1 := x[a], x[b]
				x[a] = x0*math.Cos(th) - x1*math.Sin(th)
				x[b] = x0*math.Sin(th) + x1*math.Cos(th)
			}
		}
		q, k = headwise(q, rope), headwise(k, rope)
		put("q_rope", l, q)
		put("k_rope", l, k)
		att := make([][]float64, T)
		for p := 0; p < T; p++ {
			att[p] = make([]float64, c.Heads*hd)
			for hh := 0; hh < c.Heads; hh++ {
				g := hh / (c.Heads / c.KVHeads)
				s := make([]float64, p+1)
				mx := math.Inf(-1)
				for j := range s {
					for i := 0; i < hd; i++ {
						s[j] += q[p][hh*hd+i] * k[j][g*hd+i]
					}
					s[j] /= math.Sqrt(float64(hd))
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for i := 0; i < hd; i++ {
					for j := range s {
						att[p][hh*hd+i] += s[j] / sum * v[j][g*hd+i]
					}
				}
			}
		}
		put("attn_out", l, att)
		wo := deq(&L.O)
		ap := each(att, func(a []float64) []float64 { return mv(&L.O, wo, a) })
		put("attn_proj", l, ap)
		for p := range x {
			for i := range x[p] {
				x[p][i] += ap[p][i]
			}
		}
		put("ffn_inp", l, x)
		fn := deq(&L.FFNNorm)
		n2 := each(x, func(v []float64) []float64 { return norm(v, fn) })
		wg, wu, wd := deq(&L.Gate), deq(&L.Up), deq(&L.Down)
		act := each(n2, func(v []float64) []float64 {
			g, u := mv(&L.Gate, wg, v), mv(&L.Up, wu, v)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			return g
		})
		put("ffn_act", l, act)
		for p := range x {
			o := mv(&L.Down, wd, act[p])
			for i := range x[p] {
				x[p][i] += o[i]
			}
		}
		put("l_out", l, x)
	}
	on := deq(&m.Weights.OutputNorm)
	hN := each(x, func(v []float64) []float64 { return norm(v, on) })
	put("output_norm", -1, hN)
	wout := deq(&m.Weights.Output)
	put("logits", -1, each(hN, func(v []float64) []float64 { return mv(&m.Weights.Output, wout, v) }))
	return res
}

// closeTo checks got against the oracle with abs + |ref|·rel, abs scaled
// by the oracle's RMS.
func closeTo(t testing.TB, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, oracle has %d", name, len(got), len(want))
	}
	var rms float64
	for _, w := range want {
		rms += w * w
	}
	rms = math.Sqrt(rms / float64(len(want)))
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*rms+tol*math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, float64 oracle %g (|diff| %.3g, tol %.3g·(rms %.3g + |ref|))", name, i, got[i], want[i], d, tol, rms)
		}
	}
}
