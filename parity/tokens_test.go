package parity

import (
	"math"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// scripted is a path whose logits depend only on the position, so every
// detail of a divergence is known in advance.
type scripted struct {
	name   string
	cfg    model.Config
	logits func(pos int) []float32
}

func (s *scripted) Name() string          { return s.name }
func (s *scripted) Numerics() string      { return "plain" }
func (s *scripted) Config() *model.Config { return &s.cfg }
func (s *scripted) Reset()                {}
func (s *scripted) Checkpoints() []string { return []string{"logits"} }
func (s *scripted) SetHook(model.Hook)    {}
func (s *scripted) Close() error          { return nil }
func (s *scripted) Forward(tokens []int32, pos int) ([]float32, error) {
	var out []float32
	for i := range tokens {
		out = append(out, s.logits(pos+i)...)
	}
	return out, nil
}

const scriptVocab = 16

// base puts token (pos·5+1) mod 16 on top, then a descending ladder.
func base(pos int) []float32 {
	l := make([]float32, scriptVocab)
	for i := range l {
		l[i] = -float32((i - pos*5 - 1 + 4*scriptVocab) % scriptVocab)
	}
	return l
}

func pathPair(at int, a, b func([]float32)) (model.Path, model.Path) {
	mk := func(name string, tweak func([]float32)) model.Path {
		return &scripted{name: name, cfg: model.Config{Vocab: scriptVocab}, logits: func(pos int) []float32 {
			l := base(pos)
			if pos == at {
				tweak(l)
			}
			return l
		}}
	}
	return mk("reference", a), mk("dsl", b)
}

func TestTokenClasses(t *testing.T) {
	const prompt, n, step = 3, 8, 4 // divergence at generated index 4 = position 3+4−1
	at := prompt + step - 1
	for _, c := range []struct {
		name    string
		a, b    func([]float32)
		class   string
		verdict string
	}{
		{"tie_flip", func(l []float32) { l[3], l[9] = 10, 9.999 }, func(l []float32) { l[3], l[9] = 9.999, 10 }, ClassTieFlip, Pass},
		{"drift", func(l []float32) { l[3], l[9] = 10, 9.5 }, func(l []float32) { l[3], l[9] = 9.5, 10 }, ClassDrift, Fail},
		{"wrong", func(l []float32) { l[3] = 10 }, func(l []float32) { l[9] = 10 }, ClassWrong, Fail},
		{"none", func(l []float32) {}, func(l []float32) {}, ClassNone, Pass},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := pathPair(at, c.a, c.b)
			r, err := RunTokens(TokensOptions{Paths: []model.Path{a, b}, Prompt: []int32{1, 2, 3}, N: n})
			if err != nil {
				t.Fatal(err)
			}
			wantDiv := step
			if c.class == ClassNone {
				wantDiv = -1
			}
			if r.FirstDivergence != wantDiv || r.Class != c.class || r.Verdict != c.verdict {
				t.Fatalf("divergence %d class %s verdict %s, want %d %s %s", r.FirstDivergence, r.Class, r.Verdict, wantDiv, c.class, c.verdict)
			}
			if c.class == ClassNone {
				if r.KLMax != 0 || r.Top1Agreement != 1 || r.RMSdp != 0 {
					t.Errorf("identical paths: kld_max %g top1 %g rms_dp %g", float64(r.KLMax), float64(r.Top1Agreement), float64(r.RMSdp))
				}
				return
			}
			if got := r.Top5["reference"][0].ID; got != 3 {
				t.Errorf("reference top-1 %d, want 3", got)
			}
			if got := r.Top5["dsl"][0].ID; got != 9 {
				t.Errorf("dsl top-1 %d, want 9", got)
			}
			// Teacher-forced: exactly one of n positions differs.
			if got, want := float64(r.Top1Agreement), float64(n-1)/n; got != want {
				t.Errorf("top1_agreement %g, want %g", got, want)
			}
			if !(r.KLMax > 0) || float64(r.KLMean) != float64(r.KLMax)/n {
				t.Errorf("kld_mean %g kld_max %g: want one non-zero position", float64(r.KLMean), float64(r.KLMax))
			}
			// The p99 of 8 values is the maximum.
			if r.KLP99 != r.KLMax {
				t.Errorf("kld_p99 %g, want kld_max %g", float64(r.KLP99), float64(r.KLMax))
			}
		})
	}
}

// TestTieFlipKL checks the KL value of the tie case by hand: at the
// flipped position the two distributions differ only in tokens 3 and 9.
func TestTieFlipKL(t *testing.T) {
	at := 3
	a, b := pathPair(at, func(l []float32) { l[3], l[9] = 10, 9.999 }, func(l []float32) { l[3], l[9] = 9.999, 10 })
	r, err := RunTokens(TokensOptions{Paths: []model.Path{a, b}, Prompt: []int32{1, 2, 3}, N: 4})
	if err != nil {
		t.Fatal(err)
	}
	la, lb := base(at), base(at)
	la[3], la[9], lb[3], lb[9] = 10, 9.999, 9.999, 10
	pa, pb := softmax(la), softmax(lb)
	want := 0.0
	for i := range pa {
		want += pa[i] * math.Log(pa[i]/pb[i])
	}
	if got := float64(r.KLMax); math.Abs(got-want) > 1e-12*want {
		t.Errorf("kld_max %.15g, want %.15g", got, want)
	}
}

func TestTokensGolden(t *testing.T) {
	m := openStories(t)
	golden := testenv.StoriesGreedy()[:16]
	r, err := RunTokens(TokensOptions{Paths: []model.Path{newFake(t, "reference", m), newFake(t, "dsl", m)},
		Prompt: []int32{1}, N: len(golden), Sampler: sample.Options{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Streams["reference"]; !slices.Equal(got, golden) {
		t.Errorf("greedy stream %v, want %v", got, golden)
	}
	if r.Class != ClassNone || r.KLMax != 0 || r.Verdict != Pass {
		t.Errorf("class %s kld_max %g verdict %s", r.Class, float64(r.KLMax), r.Verdict)
	}
	// A seeded temperature run is identical for identical paths and
	// differs under a 5% perturbation of the logits of the second.
	so := sample.Options{Temperature: 0.8, TopK: 40, Seed: 42}
	p, _ := ParsePerturb("dsl:logits=5e-2")
	r, err = RunTokens(TokensOptions{Paths: []model.Path{newFake(t, "reference", m), newFake(t, "dsl", m)},
		Prompt: []int32{1}, N: 24, Sampler: so, Hooks: []model.Hook{nil, p.Hook()}})
	if err != nil {
		t.Fatal(err)
	}
	if !(r.KLMean > 0) || r.Positions != 24 {
		t.Errorf("perturbed logits: kld_mean %g over %d positions", float64(r.KLMean), r.Positions)
	}
}
