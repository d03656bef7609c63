package parity

import (
	"github.com/metallic-go/metallic/internal/testenv"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// fakePath is a small float32 forward pass (llama, qwen2, qwen3) written for
// these tests, so the harness can be exercised without the real paths.
type fakePath struct {
	name   string
	m      *model.Model
	cfg    *model.Config
	w      map[string][]float32
	kinds  []string
	hook   model.Hook
	kc, vc [][]float32
	// bug, when set, is applied to every checkpoint after the hook: a
	// simulated kernel fault the hook cannot see.
	bug func(t *model.Tensor)
	// pre, when set, is applied before the hook: a kernel fault the
	// capture sees.
	pre func(t *model.Tensor)
	// roundDot rounds each mul_mat input row as llama.cpp does for the
	// weight's dtype (ggmlnum.RoundForDot).
	roundDot bool
	// roundFn, when set with roundDot, replaces ggmlnum.RoundForDot (a
	// kernel that rounds wrongly).
	roundFn func(t gguf.Type, x []float32)
	// declare, when set, is what Numerics returns; else the profile the
	// fake's arithmetic is: ggml-cpu with roundDot, plain without.
	declare string
}

func newFake(t testing.TB, name string, m *model.Model, skip ...string) *fakePath {
	t.Helper()
	f := &fakePath{name: name, m: m, cfg: &m.Config, w: map[string][]float32{}}
	for _, k := range model.NewGraph(&m.Config).Kinds() {
		if !slices.Contains(skip, k) {
			f.kinds = append(f.kinds, k)
		}
	}
	f.Reset()
	return f
}

func (f *fakePath) weight(w *model.Weight) []float32 {
	if w == nil || w.Data == nil {
		return nil
	}
	if v, ok := f.w[w.Name]; ok {
		return v
	}
	v := make([]float32, w.K*w.N)
	if err := gguf.Dequantize(w.Type, w.Data, v); err != nil {
		panic(err)
	}
	f.w[w.Name] = v
	return v
}

func (f *fakePath) Name() string { return f.name }
func (f *fakePath) Numerics() string {
	switch {
	case f.declare != "":
		return f.declare
	case f.roundDot:
		return "ggml-cpu"
	}
	return "plain"
}
func (f *fakePath) Config() *model.Config { return f.cfg }
func (f *fakePath) Checkpoints() []string { return f.kinds }
func (f *fakePath) SetHook(h model.Hook)  { f.hook = h }
func (f *fakePath) Close() error          { return nil }
func (f *fakePath) Reset() {
	f.kc = make([][]float32, f.cfg.Layers)
	f.vc = make([][]float32, f.cfg.Layers)
}

func (f *fakePath) emit(kind string, layer, pos, rows int, data []float32) {
	if !slices.Contains(f.kinds, kind) {
		return
	}
	t := &model.Tensor{Name: model.CheckpointName(kind, layer), Layer: layer, Pos: pos, Rows: rows, Cols: len(data) / rows, Data: data}
	if f.pre != nil {
		f.pre(t)
	}
	if f.hook != nil {
		f.hook(t)
	}
	if f.bug != nil {
		f.bug(t)
	}
}

func (f *fakePath) mm(x []float32, w *model.Weight, b *model.Weight, rows int) []float32 {
	wd, bd := f.weight(w), f.weight(b)
	y := make([]float32, rows*w.N)
	for r := 0; r < rows; r++ {
		xr := x[r*w.K : (r+1)*w.K]
		if f.roundDot {
			xr = slices.Clone(xr)
			if f.roundFn != nil {
				f.roundFn(w.Type, xr)
			} else {
				ggmlnum.RoundForDot(w.Type, xr)
			}
		}
		for n := 0; n < w.N; n++ {
			var s float32
			for k, v := range wd[n*w.K : (n+1)*w.K] {
				s += v * xr[k]
			}
			if bd != nil {
				s += bd[n]
			}
			y[r*w.N+n] = s
		}
	}
	return y
}

func (f *fakePath) norm(x []float32, n int, g *model.Weight) []float32 {
	gd := f.weight(g)
	y := make([]float32, len(x))
	for r := 0; r < len(x); r += n {
		var ss float32
		for _, v := range x[r : r+n] {
			ss += v * v
		}
		s := float32(1 / math.Sqrt(float64(ss/float32(n)+f.cfg.NormEps)))
		for i, v := range x[r : r+n] {
			y[r+i] = v * s * gd[i]
		}
	}
	return y
}

func (f *fakePath) rope(x []float32, pos, cols int) []float32 {
	c := f.cfg
	y := slices.Clone(x)
	half := c.RopeDim / 2
	for r := 0; r*cols < len(x); r++ {
		for h := 0; h < cols/c.HeadDim; h++ {
			o := r*cols + h*c.HeadDim
			for i := 0; i < half; i++ {
				th := float64(pos+r) * math.Pow(float64(c.RopeBase), -2*float64(i)/float64(c.RopeDim))
				sn, cs := float32(math.Sin(th)), float32(math.Cos(th))
				a, b := 2*i, 2*i+1
				if c.RopeStyle == model.RopeNeoX {
					a, b = i, i+half
				}
				y[o+a] = x[o+a]*cs - x[o+b]*sn
				y[o+b] = x[o+a]*sn + x[o+b]*cs
			}
		}
	}
	return y
}

func (f *fakePath) Forward(tokens []int32, pos int) ([]float32, error) {
	c, W := f.cfg, &f.m.Weights
	T, d, hd := len(tokens), c.Dim, c.HeadDim
	x := make([]float32, T*d)
	emb := f.weight(&W.Embd)
	for i, tok := range tokens {
		copy(x[i*d:], emb[int(tok)*d:int(tok+1)*d])
	}
	f.emit("embd", -1, pos, T, x)
	add := func(a, b []float32) []float32 {
		y := make([]float32, len(a))
		for i := range a {
			y[i] = a[i] + b[i]
		}
		return y
	}
	for l := range c.Layers {
		L := &W.Layers[l]
		an := f.norm(x, d, &L.AttnNorm)
		f.emit("attn_norm", l, pos, T, an)
		q, k, v := f.mm(an, &L.Q, &L.QBias, T), f.mm(an, &L.K, &L.KBias, T), f.mm(an, &L.V, &L.VBias, T)
		f.emit("q", l, pos, T, q)
		f.emit("k", l, pos, T, k)
		f.emit("v", l, pos, T, v)
		if c.QKNorm {
			q, k = f.norm(q, hd, &L.QNorm), f.norm(k, hd, &L.KNorm)
			f.emit("q_norm", l, pos, T, q)
			f.emit("k_norm", l, pos, T, k)
		}
		q, k = f.rope(q, pos, c.Heads*hd), f.rope(k, pos, c.KVHeads*hd)
		f.emit("q_rope", l, pos, T, q)
		f.emit("k_rope", l, pos, T, k)
		f.kc[l], f.vc[l] = append(f.kc[l], k...), append(f.vc[l], v...)
		kv := c.KVHeads * hd
		ao := make([]float32, T*c.Heads*hd)
		for i := range T {
			for h := range c.Heads {
				qh := q[(i*c.Heads+h)*hd : (i*c.Heads+h+1)*hd]
				g := h / (c.Heads / c.KVHeads)
				n := pos + i + 1
				sc := make([]float32, n)
				mx := float32(math.Inf(-1))
				for j := range n {
					var s float32
					for e, qv := range qh {
						s += qv * f.kc[l][j*kv+g*hd+e]
					}
					sc[j] = s / float32(math.Sqrt(float64(hd)))
					mx = max(mx, sc[j])
				}
				var sum float32
				for j := range n {
					sc[j] = float32(math.Exp(float64(sc[j] - mx)))
					sum += sc[j]
				}
				for j := range n {
					for e := range hd {
						ao[(i*c.Heads+h)*hd+e] += sc[j] / sum * f.vc[l][j*kv+g*hd+e]
					}
				}
			}
		}
		f.emit("attn_out", l, pos, T, ao)
		ap := f.mm(ao, &L.O, nil, T)
		f.emit("attn_proj", l, pos, T, ap)
		fi := add(x, ap)
		f.emit("ffn_inp", l, pos, T, fi)
		fn := f.norm(fi, d, &L.FFNNorm)
		f.emit("ffn_norm", l, pos, T, fn)
		g, u := f.mm(fn, &L.Gate, nil, T), f.mm(fn, &L.Up, nil, T)
		f.emit("ffn_gate", l, pos, T, g)
		f.emit("ffn_up", l, pos, T, u)
		act := make([]float32, len(g))
		for i, gv := range g {
			act[i] = gv / (1 + float32(math.Exp(float64(-gv)))) * u[i]
		}
		f.emit("ffn_act", l, pos, T, act)
		fo := f.mm(act, &L.Down, nil, T)
		f.emit("ffn_out", l, pos, T, fo)
		x = add(fi, fo)
		f.emit("l_out", l, pos, T, x)
	}
	on := f.norm(x, d, &W.OutputNorm)
	f.emit("output_norm", -1, pos, T, on)
	lg := f.mm(on, &W.Output, nil, T)
	f.emit("logits", -1, pos, T, lg)
	return lg, nil
}

// repoRoot walks up from the working directory to go.mod.
func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

func openStories(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Open(filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
