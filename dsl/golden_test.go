package dsl

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// goldenStories are stories260K's first 48 greedy tokens from BOS
// (internal/testenv, with their provenance).
var goldenStories = testenv.StoriesGreedy()

func greedy(t *testing.T, p model.Path, n int) []int32 {
	t.Helper()
	tok, pos := testenv.StoriesBOS, 0
	var out []int32
	for len(out) < n {
		logits, err := p.Forward([]int32{tok}, pos)
		if err != nil {
			t.Fatal(err)
		}
		pos++
		tok = sample.Greedy(logits)
		out = append(out, tok)
	}
	return out
}

// TestGoldenStories: stories260K's first 48 greedy tokens from BOS are
// the documented ones, under each instruction set of the CPU twin's row
// dots this CPU has (avx512, avx2, go).
func TestGoldenStories(t *testing.T) {
	m := openStories(t)
	eachSIMD(t, func(t *testing.T) {
		for _, act := range []string{"f32", "f16"} {
			t.Run(act, func(t *testing.T) {
				e, err := New(m, Options{PathOptions: model.PathOptions{ActDType: act, Ctx: 64}})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				assert.Equal(t, goldenStories, greedy(t, e, len(goldenStories)), "greedy tokens from BOS")
			})
		}
	})
}

// eachSIMD runs f under every instruction set of the row dots this CPU
// has (kernel.SIMDs), restoring the start-up one after.
func eachSIMD(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	prev := kernel.SIMD()
	t.Cleanup(func() {
		if err := kernel.SetSIMD(prev); err != nil {
			t.Fatal(err)
		}
	})
	for _, set := range kernel.SIMDs() {
		t.Run(set, func(t *testing.T) {
			if err := kernel.SetSIMD(set); err != nil {
				t.Fatal(err)
			}
			f(t)
		})
	}
}

// TestSIMDBitIdentical: the logits of a prompt and two decode steps are
// the same bits under every instruction set of the row dots, for every
// dtype with SIMD kernels (tiny qwen2 models, both numerics).
func TestSIMDBitIdentical(t *testing.T) {
	if len(kernel.SIMDs()) < 2 {
		t.Skipf("this CPU runs only %v: nothing to compare", kernel.SIMDs())
	}
	prev := kernel.SIMD()
	defer kernel.SetSIMD(prev)
	for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, num := range []string{"plain", "ggml-cpu"} {
			t.Run(dt.String()+"/"+num, func(t *testing.T) {
				m := tinyOf("qwen2", dt).open(t)
				var want [][]float32
				for _, set := range kernel.SIMDs() {
					if err := kernel.SetSIMD(set); err != nil {
						t.Fatal(err)
					}
					e, err := New(m, Options{PathOptions: model.PathOptions{Ctx: 16, Numerics: num}})
					if err != nil {
						t.Fatal(err)
					}
					var got [][]float32
					for i, toks := range [][]int32{{1, 5, 9, 2}, {7}, {3}} {
						pos := []int{0, 4, 5}[i]
						logits, err := e.Forward(toks, pos)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, append([]float32(nil), logits...))
					}
					e.Close()
					if want == nil {
						want = got
						continue
					}
					for s := range got {
						for i := range got[s] {
							if math.Float32bits(got[s][i]) != math.Float32bits(want[s][i]) {
								t.Fatalf("%s, step %d, logit %d: got %v, want %v (%s)", set, s, i, got[s][i], want[s][i], kernel.SIMDs()[0])
							}
						}
					}
				}
			})
		}
	}
}
