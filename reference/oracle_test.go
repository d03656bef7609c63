package reference_test

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/synth"
)

// forward64 is an independent float64 forward of any supported
// architecture, one position at a time with exact dequantization: the
// global oracle the reference is checked against.
func forward64(t *testing.T, m *model.Model, tokens []int32) [][]float64 {
	cfg, w := m.Config, m.Weights
	deq := func(x model.Weight) []float64 {
		if x.Data == nil {
			return nil
		}
		out := make([]float64, x.K*x.N)
		if err := gguf.DequantizeF64(x.Type, x.Data, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// matvec is W·x̂ with x̂ rounded as the weight type's dot product
	// rounds it in llama.cpp (see backend.OpMatMulQ).
	matvec := func(W []float64, x []float64, n int, wt gguf.Type) []float64 {
		k := len(x)
		x = roundX(t, wt, x)
		y := make([]float64, n)
		for i := range n {
			for j := range k {
				y[i] += W[i*k+j] * x[j]
			}
		}
		return y
	}
	rms := func(x, g []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		s := 1 / math.Sqrt(ss/float64(len(x))+float64(cfg.NormEps))
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * s * g[i]
		}
		return y
	}
	hd := cfg.HeadDim
	rope := func(x []float64, pos int) {
		for h := 0; h < len(x)/hd; h++ {
			for i := 0; i < cfg.RopeDim/2; i++ {
				th := float64(pos) * math.Pow(float64(cfg.RopeBase), -2*float64(i)/float64(cfg.RopeDim))
				a, b := h*hd+2*i, h*hd+2*i+1
				if cfg.RopeStyle == model.RopeNeoX {
					a, b = h*hd+i, h*hd+i+cfg.RopeDim/2
				}
				x0, x1 := x[a], x[b]
				x[a] = x0*math.Cos(th) - x1*math.Sin(th)
				x[b] = x0*math.Sin(th) + x1*math.Cos(th)
			}
		}
	}
	type layer struct{ an, q, k, v, bq, bk, bv, qn, kn, o, fn, g, u, d []float64 }
	ls := make([]layer, cfg.Layers)
	for i, l := range w.Layers {
		ls[i] = layer{deq(l.AttnNorm), deq(l.Q), deq(l.K), deq(l.V), deq(l.QBias), deq(l.KBias), deq(l.VBias),
			deq(l.QNorm), deq(l.KNorm), deq(l.O), deq(l.FFNNorm), deq(l.Gate), deq(l.Up), deq(l.Down)}
	}
	embd, onorm, out := deq(w.Embd), deq(w.OutputNorm), deq(w.Output)
	kc := make([][][]float64, cfg.Layers)
	vc := make([][][]float64, cfg.Layers)
	wl := w.Layers
	var logits [][]float64
	for pos, id := range tokens {
		x := append([]float64(nil), embd[int(id)*cfg.Dim:(int(id)+1)*cfg.Dim]...)
		for li, l := range ls {
			xb := rms(x, l.an)
			q := matvec(l.q, xb, cfg.Heads*hd, wl[li].Q.Type)
			k := matvec(l.k, xb, cfg.KVHeads*hd, wl[li].K.Type)
			v := matvec(l.v, xb, cfg.KVHeads*hd, wl[li].V.Type)
			for i := range l.bq {
				q[i] += l.bq[i]
			}
			for i := range l.bk {
				k[i] += l.bk[i]
			}
			for i := range l.bv {
				v[i] += l.bv[i]
			}
			if l.qn != nil {
				for h := 0; h < cfg.Heads; h++ {
					copy(q[h*hd:], rms(q[h*hd:(h+1)*hd], l.qn))
				}
				for h := 0; h < cfg.KVHeads; h++ {
					copy(k[h*hd:], rms(k[h*hd:(h+1)*hd], l.kn))
				}
			}
			rope(q, pos)
			rope(k, pos)
			kc[li], vc[li] = append(kc[li], k), append(vc[li], v)
			att := make([]float64, cfg.Heads*hd)
			for h := 0; h < cfg.Heads; h++ {
				g := h / (cfg.Heads / cfg.KVHeads)
				s := make([]float64, pos+1)
				mx := math.Inf(-1)
				for j := range s {
					for i := range hd {
						s[j] += q[h*hd+i] * kc[li][j][g*hd+i]
					}
					s[j] /= math.Sqrt(float64(hd))
					mx = max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					for i := range hd {
						att[h*hd+i] += s[j] / sum * vc[li][j][g*hd+i]
					}
				}
			}
			proj := matvec(l.o, att, cfg.Dim, wl[li].O.Type)
			for i := range x {
				x[i] += proj[i]
			}
			xb = rms(x, l.fn)
			gt, up := matvec(l.g, xb, cfg.FF, wl[li].Gate.Type), matvec(l.u, xb, cfg.FF, wl[li].Up.Type)
			for i := range gt {
				gt[i] = gt[i] / (1 + math.Exp(-gt[i])) * up[i]
			}
			dn := matvec(l.d, gt, cfg.Dim, wl[li].Down.Type)
			for i := range x {
				x[i] += dn[i]
			}
		}
		logits = append(logits, matvec(out, rms(x, onorm), cfg.Vocab, w.Output.Type))
	}
	return logits
}

// roundX rounds x as llama.cpp does for a dot product with weights of
// type wt: f16/bf16 for F16/BF16, Q8_0 blocks (via gguf.Quantize) for the
// 32-element quants, Q8_K blocks for k-quants.
func roundX(t *testing.T, wt gguf.Type, x []float64) []float64 {
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	out := make([]float64, len(x))
	switch wt {
	case gguf.TypeF32:
		for i, v := range x32 {
			out[i] = float64(v)
		}
	case gguf.TypeF16:
		for i, v := range x32 {
			out[i] = float64(gguf.F16ToF32(gguf.F32ToF16(v)))
		}
	case gguf.TypeBF16:
		for i, v := range x32 {
			out[i] = float64(gguf.BF16ToF32(gguf.F32ToBF16(v)))
		}
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ5_1:
		q, err := gguf.Quantize(gguf.TypeQ8_0, x32)
		if err == nil {
			err = gguf.DequantizeF64(gguf.TypeQ8_0, q, out)
		}
		if err != nil {
			t.Fatal(err)
		}
	default:
		for b := 0; b < len(x32); b += 256 {
			blk := x32[b : b+256]
			var amax, m float32
			for _, v := range blk {
				if a := float32(math.Abs(float64(v))); a > amax {
					amax, m = a, v
				}
			}
			if amax == 0 {
				continue
			}
			s := -127 / m
			for i, v := range blk {
				out[b+i] = float64(1 / s * float32(min(127, math.RoundToEven(float64(s*v)))))
			}
		}
	}
	return out
}

// TestOracle compares the reference's logits at every position with the
// float64 forward on synthetic models of every architecture, in f32 and f16
// storage and with quantized weights.
func TestOracle(t *testing.T) {
	dir := t.TempDir()
	tokens := []int32{1, 17, 300, 42, 5, 99, 260, 7, 8, 150, 3}
	for _, preset := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0, gguf.TypeQ4_K} {
			file := filepath.Join(dir, fmt.Sprintf("%s-%v.gguf", preset, dt))
			if _, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: dt, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			m, err := model.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			want := forward64(t, m, tokens)
			for _, act := range []string{"f32", "f16"} {
				c, err := newCtx(m, act)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Forward(tokens, 0)
				c.Close()
				if err != nil {
					t.Fatal(err)
				}
				// F32 weights, f32 storage: float32 rounding only. f16
				// storage: every stored value carries up to 2^-11
				// relative error. Quantized weights: the activations are
				// quantized to 8 bits for the dot products (OpMatMulQ),
				// and an ulp of difference between the oracle's x and the
				// path's flips some q by one step; the flips propagate,
				// so only gross errors (NMSE ~1) are caught here — the
				// per-op check is backendtest's.
				limit := map[string]float64{"f32": 1e-9, "f16": 1e-5}[act]
				if dt != gguf.TypeF32 {
					limit = 5e-3
				}
				V := m.Config.Vocab
				worst := 0.0
				for p := range tokens {
					var se, sr float64
					for j := range V {
						d := float64(got[p*V+j]) - want[p][j]
						se += d * d
						sr += want[p][j] * want[p][j]
					}
					worst = max(worst, se/sr)
				}
				t.Logf("%s %v act %s: worst-position logits NMSE %.3g", preset, dt, act, worst)
				if !(worst <= limit) {
					t.Errorf("%s %v act %s: logits NMSE %.3g > %.0g", preset, dt, act, worst, limit)
				}
			}
			m.Close()
		}
	}
}

func newCtx(m *model.Model, act string) (interface {
	Forward([]int32, int) ([]float32, error)
	Close() error
}, error) {
	return model.OpenPath("reference", m, model.PathOptions{ActDType: act, Ctx: 64})
}

// TestHookQwen3 checks the qwen3-only checkpoints (q_norm, k_norm) reach
// the hook in order, and that observing leaves the logits bit-identical.
func TestHookQwen3(t *testing.T) {
	file := filepath.Join(t.TempDir(), "q3.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: "tiny-qwen3", DType: gguf.TypeQ8_0, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := open(t, m, model.PathOptions{Ctx: 16, ActDType: "f16"})
	toks := []int32{1, 2, 3, 4, 5}
	want, err := c.Forward(toks, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Reset()
	var names []string
	c.SetHook(func(x *model.Tensor) { names = append(names, x.Name) })
	got, err := c.Forward(toks, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("logits changed when a hook observes")
	}
	want1 := []string{"blk.1.v", "blk.1.q_norm", "blk.1.k_norm", "blk.1.q_rope"}
	i := slices.Index(names, "blk.1.v")
	if i < 0 || i+4 > len(names) || !slices.Equal(names[i:i+4], want1) {
		t.Errorf("hook order around blk.1.v: %v, want %v", names, want1)
	}
	if n := 1 + 2*17 + 2; len(names) != n {
		t.Errorf("hook saw %d checkpoints, want %d", len(names), n)
	}
}
