package reference_test

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/reference"
	"github.com/metallic-go/metallic/sample"
)

// golden are stories260K's first 48 greedy tokens from BOS
// (internal/testenv, with their provenance).
var golden = testenv.StoriesGreedy()

func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

func stories(t testing.TB) *model.Model {
	m, err := model.Open(filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func open(t testing.TB, m *model.Model, opts model.PathOptions) *reference.Context {
	c, err := reference.New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoldenStories260K(t *testing.T) {
	m := stories(t)
	for _, act := range []string{"f32", "f16"} {
		t.Run(act, func(t *testing.T) {
			c := open(t, m, model.PathOptions{ActDType: act})
			res, err := model.Generate(c, []int32{testenv.StoriesBOS}, model.GenerateOptions{MaxTokens: len(golden)})
			require.NoError(t, err)
			assert.Equal(t, golden, res.Tokens, "greedy tokens from BOS")
		})
	}
}

// prompt is a fixed 12-token prompt of stories260K: BOS and the first
// golden tokens.
var prompt = testenv.StoriesPrompt(12)

// TestPrefillMatchesDecode: one Forward over T tokens and T one-token
// calls give the same logits up to summation order. They are not
// bit-identical by design: llama.cpp computes a prompt's matmuls with
// tinyBLAS and a single token's with ggml_vec_dot, and the reference
// reproduces both (backend/ggmlnum).
func TestPrefillMatchesDecode(t *testing.T) {
	m := stories(t)
	for _, act := range []string{"f32", "f16"} {
		c := open(t, m, model.PathOptions{ActDType: act})
		all, err := c.Forward(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.Reset()
		V := m.Config.Vocab
		for i, id := range prompt {
			row, err := c.Forward([]int32{id}, i)
			if err != nil {
				t.Fatal(err)
			}
			want := all[i*V : (i+1)*V]
			var num, den float64
			for j, v := range row {
				d := float64(v) - float64(want[j])
				num += d * d
				den += float64(want[j]) * float64(want[j])
			}
			limit := 1e-12
			if act == "f16" {
				limit = 1e-5 // an f16 rounding of a stored activation can flip (measured ≤ 1.1e-6)
			}
			if num/den > limit {
				t.Errorf("%s: position %d: decode logits NMSE %.3g from prefill's (> %g)", act, i, num/den, limit)
			}
			if sample.Greedy(row) != sample.Greedy(want) {
				t.Errorf("%s: position %d: decode argmax %d, prefill %d", act, i, sample.Greedy(row), sample.Greedy(want))
			}
		}
	}
}

func TestThreadsBitIdentical(t *testing.T) {
	m := stories(t)
	run := func(threads int) []float32 {
		c := open(t, m, model.PathOptions{Threads: threads})
		l, err := c.Forward(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	one, two := run(1), run(2)
	old := runtime.GOMAXPROCS(1)
	g1 := run(0)
	runtime.GOMAXPROCS(2)
	g2 := run(0)
	runtime.GOMAXPROCS(old)
	if !slices.Equal(one, two) || !slices.Equal(one, g1) || !slices.Equal(one, g2) {
		t.Error("logits differ between Threads=1, Threads=2, GOMAXPROCS=1 and GOMAXPROCS=2")
	}
}

// TestHook checks that a hook sees every checkpoint the context declares,
// in order with the right shapes, and that observing changes nothing.
func TestHook(t *testing.T) {
	m := stories(t)
	cfg := m.Config
	for _, act := range []string{"f32", "f16"} {
		c := open(t, m, model.PathOptions{ActDType: act})
		want, err := c.Forward(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.Reset()
		var names []string
		c.SetHook(func(x *model.Tensor) {
			names = append(names, x.Name)
			if x.Rows != len(prompt) || len(x.Data) != x.Rows*x.Cols || x.Pos != 0 {
				t.Errorf("%s: rows %d cols %d len %d pos %d", x.Name, x.Rows, x.Cols, len(x.Data), x.Pos)
			}
			kind, layer, err := model.ParseCheckpoint(x.Name)
			if err != nil || layer != x.Layer {
				t.Errorf("%s: layer %d, parse %v", x.Name, x.Layer, err)
			}
			if act == "f16" && kind != "logits" {
				for _, v := range x.Data {
					if gguf.F16ToF32(gguf.F32ToF16(v)) != v {
						t.Fatalf("%s: value %v is not an f16", x.Name, v)
					}
				}
			}
		})
		got, err := c.Forward(prompt, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: logits changed when a hook observes", act)
		}
		wantNames := model.NewGraph(&cfg).Names()
		assert.Equal(t, wantNames, names, "%s: checkpoints the hook saw", act)
	}
}

// TestHookPerturbs: a hook that changes a checkpoint changes everything
// after it, and only after it.
func TestHookPerturbs(t *testing.T) {
	m := stories(t)
	c := open(t, m, model.PathOptions{})
	before := map[string][]float32{}
	c.SetHook(func(x *model.Tensor) { before[x.Name] = slices.Clone(x.Data) })
	base, err := c.Forward(prompt, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Reset()
	after := map[string][]float32{}
	c.SetHook(func(x *model.Tensor) {
		if x.Name == "blk.2.ffn_act" {
			for i := range x.Data {
				x.Data[i] *= 1.01
			}
		}
		after[x.Name] = slices.Clone(x.Data)
	})
	got, err := c.Forward(prompt, 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(got, base) {
		t.Fatal("perturbing blk.2.ffn_act did not change the logits")
	}
	if !slices.Equal(before["blk.2.ffn_up"], after["blk.2.ffn_up"]) {
		t.Error("blk.2.ffn_up changed although it precedes the perturbation")
	}
	if slices.Equal(before["blk.2.ffn_out"], after["blk.2.ffn_out"]) {
		t.Error("blk.2.ffn_out did not change after the perturbation")
	}
}

func TestErrors(t *testing.T) {
	m := stories(t)
	c := open(t, m, model.PathOptions{Ctx: 8})
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
	_, err := c.Forward(make([]int32, 9), 0)
	check("prompt longer than ctx", err, "exceed the context of 8")
	_, err = c.Forward([]int32{1, 512}, 0)
	check("token outside vocab", err, "outside the vocabulary")
	_, err = c.Forward([]int32{1, -1}, 0)
	check("negative token", err, "outside the vocabulary")
	_, err = c.Forward([]int32{1}, 3)
	check("position gap", err, "KV cache holds 0")
	_, err = c.Forward(nil, 0)
	check("no tokens", err, "at least one token")
	if _, err := c.Forward([]int32{1, 2, 3, 4, 5}, 0); err != nil {
		t.Fatal(err)
	}
	_, err = c.Forward([]int32{1, 2, 3, 4}, 5)
	check("decode past ctx", err, "exceed the context")

	bad := *m
	bad.Config.Arch = "gpt9"
	_, err = reference.New(&bad, model.PathOptions{})
	check("architecture", err, `unsupported architecture "gpt9"`)
	badW := *m
	badW.Weights.Layers = slices.Clone(m.Weights.Layers)
	badW.Weights.Layers[0].Q.Type = gguf.TypeIQ2_XXS
	_, err = reference.New(&badW, model.PathOptions{})
	check("weight dtype", err, "unsupported weight dtype IQ2_XXS")
	_, err = reference.New(m, model.PathOptions{ActDType: "f8"})
	check("act dtype", err, `unknown activation dtype "f8"`)
	_, err = reference.New(m, model.PathOptions{Backend: "tpu"})
	check("backend", err, `unknown backend "tpu"`)
}
