package parity

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
	"github.com/metallic-go/metallic/synth"
)

// tieFixture is a local oracle of layer 1 of synth tiny-qwen2 Q8_0 (seed
// 7) under the vec_dot rounding, from blk.0.l_out and blk.1.ffn_inp as
// the global float64 forward computes them (rounded to float32): its
// attn_norm and ffn_norm are recomputed, so q, k, v, q_rope, k_rope,
// ffn_gate, ffn_up and ffn_act carry ties.
type tieFixture struct {
	m      *model.Model
	local  *oracle.Evaluator
	tokens []int32
	t      int
}

func newTieFixture(t *testing.T) *tieFixture {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tiny-qwen2-q8_0.gguf")
	if _, err := synth.WriteFile(file, synth.Options{Preset: "tiny-qwen2", DType: gguf.TypeQ8_0, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tokens := make([]int32, 16)
	for i := range tokens {
		tokens[i] = int32(1 + 37*i%(m.Config.Vocab-1))
	}
	glob, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: tokens, RoundActivations: true})
	if err != nil {
		t.Fatal(err)
	}
	captured := map[string][]float64{}
	for _, n := range []string{"blk.0.l_out", "blk.1.ffn_inp"} {
		r, err := glob.Value(n)
		if err != nil {
			t.Fatal(err)
		}
		captured[n] = f32s(r.Data)
	}
	local := fx(t, m, tokens, captured)
	return &tieFixture{m: m, local: local, tokens: tokens, t: len(tokens)}
}

// fx is a local oracle under the vec_dot rounding reading captured.
func fx(t *testing.T, m *model.Model, tokens []int32, captured map[string][]float64) *oracle.Evaluator {
	t.Helper()
	ev, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: tokens, RoundActivations: true,
		Captured: func(n string) ([]float64, bool) { v, ok := captured[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func f32s(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(float32(v))
	}
	return out
}

func (f *tieFixture) compute(t *testing.T, name string) *oracle.Result {
	t.Helper()
	r, err := f.local.Compute(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// flipped returns the recomputed norm (src) rounded for weights of type
// ty, with the rounding the tie key names made the other way at row pos:
// element j moved by its Delta, or, for a scale tie, each element of the
// block moved by its Scale (both from vecdot.RoundTies).
func (f *tieFixture) flipped(t *testing.T, src string, ty gguf.Type, pos int, key string) []float64 {
	t.Helper()
	x := append([]float64(nil), f.compute(t, src).Data...)
	k := len(x) / f.t
	j, scale := element(t, key), strings.Contains(key, " scale ")
	var found *vecdot.Tie
	for p := 0; p < f.t; p++ {
		for _, tie := range vecdot.RoundTies(ty, x[p*k:(p+1)*k]) {
			if p == pos && tie.Index == j && (tie.Scale != nil) == scale {
				found = &tie
			}
		}
	}
	if found == nil {
		t.Fatalf("%s: no tie %s at position %d", src, key, pos)
	}
	if scale {
		for i, v := range found.Scale {
			x[pos*k+j+i] += v
		}
	} else {
		x[pos*k+j] += found.Delta
	}
	return x
}

// rounded returns the recomputed src with each row rounded for weights
// of type ty.
func (f *tieFixture) rounded(t *testing.T, src string, ty gguf.Type) []float64 {
	t.Helper()
	x := append([]float64(nil), f.compute(t, src).Data...)
	k := len(x) / f.t
	for p := 0; p < f.t; p++ {
		vecdot.Round(ty, x[p*k:(p+1)*k])
	}
	return x
}

// product is X·Wᵀ (+ bias) in float64 from a whole dequantized weight:
// independent of the oracle's streaming and of the ties' columns.
func (f *tieFixture) product(t *testing.T, x []float64, layer int, weight string) []float64 {
	t.Helper()
	w := f.m.Weights.Lookup(layer, weight+".weight")
	wf := make([]float64, w.N*w.K)
	if err := gguf.DequantizeF64(w.Type, w.Data, wf); err != nil {
		t.Fatal(err)
	}
	var bias []float64
	if b := f.m.Weights.Lookup(layer, weight+".bias"); b != nil && b.Data != nil {
		bias = make([]float64, w.N)
		if err := gguf.DequantizeF64(b.Type, b.Data, bias); err != nil {
			t.Fatal(err)
		}
	}
	y := make([]float64, f.t*w.N)
	for p := 0; p < f.t; p++ {
		for n := 0; n < w.N; n++ {
			s := 0.0
			for k := 0; k < w.K; k++ {
				s += x[p*w.K+k] * wf[n*w.K+k]
			}
			if bias != nil {
				s += bias[n]
			}
			y[p*w.N+n] = s
		}
	}
	return y
}

// element parses the element index out of a tie's key ("… [70]").
func element(t *testing.T, key string) int {
	t.Helper()
	var j int
	if _, err := fmt.Sscanf(key[strings.LastIndexByte(key, '[')+1:], "%d]", &j); err != nil {
		t.Fatalf("tie key %q: %v", key, err)
	}
	return j
}

// TestTieResolvesOneFlip: a path that rounds one ambiguous element of
// the recomputed attn_norm the other way (its v computed here in float64
// from the flipped rounded row) is off by far more than the bound
// against the unresolved oracle, and matches it to float32 rounding once
// the tie is resolved; a uniform fault of NMSE ≈ 1e-7 on top of it is not
// absorbed.
func TestTieResolvesOneFlip(t *testing.T) {
	f := newTieFixture(t)
	v := f.compute(t, "blk.1.v")
	w := f.m.Weights.Lookup(1, "attn_v.weight")
	var path []float64
	for _, kind := range []string{"element", "scale"} {
		t.Run(kind, func(t *testing.T) {
			i := slices.IndexFunc(v.Ties, func(x oracle.Tie) bool { return strings.Contains(x.Key, " scale ") == (kind == "scale") })
			if i < 0 {
				t.Fatalf("blk.1.v has no %s tie: the fixture tests nothing", kind)
			}
			tie := v.Ties[i]
			path = f32s(f.product(t, f.flipped(t, "blk.1.attn_norm", w.Type, tie.Pos, tie.Key), 1, "attn_v"))
			if before := Compare(path, v.Data, F32).NMSE; !(before > 1e-9) {
				t.Fatalf("the flip costs nmse %g unresolved: want > 1e-9", float64(before))
			}
			rs, err := resolveTies(path, v, 0, f.t, F32, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := Compare(path, rs.want, F32).NMSE; rs.applied != 1 || !(got < 1e-13) {
				t.Errorf("resolved: %d ties applied, nmse %g; want 1 and < 1e-13", rs.applied, float64(got))
			}
			// A row that passes its bound unresolved is left as it is.
			if rs, err := resolveTies(path, v, 0, f.t, F32, 1); err != nil || rs.applied != 0 || &rs.want[0] != &v.Data[0] {
				t.Errorf("passing row: %d ties applied (%v), want 0 and the oracle's own values", rs.applied, err)
			}
		})
	}

	// A path that rounds as the oracle does resolves nothing.
	same := f32s(f.product(t, f.rounded(t, "blk.1.attn_norm", w.Type), 1, "attn_v"))
	if rs, err := resolveTies(same, v, 0, f.t, F32, 0); err != nil || rs.applied != 0 {
		t.Errorf("unflipped path: %d ties applied (%v), want 0", rs.applied, err)
	}

	// A uniform fault on top of the (scale) flip is kept.
	if path == nil {
		t.Fatal("no flipped path")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	faulty := append([]float64(nil), path...)
	for i := range faulty {
		faulty[i] *= 1 + 5.5e-4*(2*rng.Float64()-1)
	}
	rs, err := resolveTies(faulty, v, 0, f.t, F32, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := Compare(faulty, rs.want, F32).NMSE; !(got > 5e-8) {
		t.Errorf("a uniform fault of nmse 1e-7 resolves to %g (%d ties applied): want it kept (> 5e-8)", float64(got), rs.applied)
	}

	// A captured input is what the path rounded: no ties.
	own := fx(t, f.m, f.tokens, map[string][]float64{"blk.1.attn_norm": f32s(f.compute(t, "blk.1.attn_norm").Data)})
	if r, err := own.Compute("blk.1.v"); err != nil || len(r.Ties) != 0 {
		t.Errorf("v from a captured attn_norm: %d ties (%v), want none", len(r.Ties), err)
	}
}

// TestTiePropagation: a tie's direction carried through rope (q_rope)
// and swiglu (ffn_act, whose gate and up round one ffn_norm row) equals
// the change of a full recomputation from the flipped input.
func TestTiePropagation(t *testing.T) {
	f := newTieFixture(t)
	cases := []struct {
		name, src string
		mats      []string // weights from src, captured by the recomputation as inputs
		inputs    []string
	}{
		{"blk.1.q_rope", "blk.1.attn_norm", []string{"attn_q"}, []string{"blk.1.q"}},
		{"blk.1.ffn_act", "blk.1.ffn_norm", []string{"ffn_gate", "ffn_up"}, []string{"blk.1.ffn_gate", "blk.1.ffn_up"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.compute(t, c.name)
			if len(r.Ties) == 0 {
				t.Fatalf("%s has no ties: the case tests nothing", c.name)
			}
			for _, tie := range r.Ties[:min(4, len(r.Ties))] {
				w := f.m.Weights.Lookup(1, c.mats[0]+".weight")
				x := f.flipped(t, c.src, w.Type, tie.Pos, tie.Key)
				captured := map[string][]float64{}
				for i, mat := range c.mats {
					captured[c.inputs[i]] = f.product(t, x, 1, mat)
				}
				alt, err := fx(t, f.m, f.tokens, captured).Compute(c.name)
				if err != nil {
					t.Fatal(err)
				}
				d, err := tie.Dir()
				if err != nil {
					t.Fatal(err)
				}
				cols, p := r.Cols, tie.Pos
				want := make([]float64, cols)
				for i := range want {
					want[i] = alt.Data[p*cols+i] - r.Data[p*cols+i]
				}
				if z := Compare(want, make([]float64, cols), F32); z.MaxAbs == 0 {
					t.Fatalf("tie %s at %d: the flip changes nothing: the case tests nothing", tie.Key, p)
				}
				if m := Compare(d, want, F32); !(m.NMSE < 1e-20) {
					t.Errorf("tie %s at %d: direction vs recomputed change: nmse %g, max_abs %g", tie.Key, p, float64(m.NMSE), float64(m.MaxAbs))
				}
			}
		})
	}
}
