package synth

import (
	"math"
	"testing"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/reference"
)

// TestActivations runs each tiny preset through the reference path and
// checks that the weight scales give non-degenerate activations: every
// block output has an RMS between 0.3 and 30, and the final logits have a
// standard deviation near LogitStd (llama.cpp measured 3.9–4.2 on these
// presets) with distinct top-2 values.
func TestActivations(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		t.Run(name, func(t *testing.T) {
			m, _, _ := build(t, Options{Preset: name, Seed: 2})
			p, err := reference.New(m, model.PathOptions{Ctx: 64})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.SetHook(func(x *model.Tensor) {
				if kind, _, _ := model.ParseCheckpoint(x.Name); kind != "l_out" {
					return
				}
				ss := 0.0
				for _, v := range x.Data {
					ss += float64(v) * float64(v)
				}
				if rms := math.Sqrt(ss / float64(len(x.Data))); !(rms > 0.3 && rms < 30) {
					t.Errorf("%s: RMS %.3g", x.Name, rms)
				}
			})
			toks := []int32{1, 5, 100, 200, 300, 7}
			logits, err := p.Forward(toks, 0)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Config.Vocab
			last := logits[(len(toks)-1)*v:]
			mean, ss := 0.0, 0.0
			for _, x := range last {
				mean += float64(x)
			}
			mean /= float64(v)
			best, second := math.Inf(-1), math.Inf(-1)
			for _, x := range last {
				f := float64(x)
				ss += (f - mean) * (f - mean)
				if f > best {
					best, second = f, best
				} else if f > second {
					second = f
				}
			}
			std := math.Sqrt(ss / float64(v))
			if std < 3 || std > 5.5 || best-second < 1e-4 {
				t.Errorf("logits std %.3f (want ≈ %d), top-2 gap %.3g", std, LogitStd, best-second)
			}
			t.Logf("logits std %.3f, top-2 gap %.3f", std, best-second)
		})
	}
}
