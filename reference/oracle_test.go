package reference_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/parity/oracle"
	"github.com/metallic-go/metallic/synth"
)

// logits64 returns the logits of tokens (row-major [len(tokens), Vocab])
// from parity/oracle's global float64 forward: exactly dequantized
// weights, activations not rounded. It shares no code with the reference.
func logits64(t *testing.T, m *model.Model, tokens []int32) []float64 {
	t.Helper()
	ev, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: tokens})
	require.NoError(t, err)
	r, err := ev.Value("logits")
	require.NoError(t, err)
	return r.Data
}

// TestOracle compares the reference's logits at every position with
// parity/oracle's float64 forward on synthetic models of every
// architecture, in f32 and f16 storage and with quantized weights.
func TestOracle(t *testing.T) {
	dir := t.TempDir()
	tokens := []int32{1, 17, 300, 42, 5, 99, 260, 7, 8, 150, 3}
	for _, preset := range []string{"tiny-llama", "tiny-qwen2", "tiny-qwen3"} {
		for _, dt := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0, gguf.TypeQ4_K} {
			file := filepath.Join(dir, fmt.Sprintf("%s-%v.gguf", preset, dt))
			_, err := synth.WriteFile(file, synth.Options{Preset: preset, DType: dt, Seed: 7})
			require.NoError(t, err)
			m, err := model.Open(file)
			require.NoError(t, err)
			want := logits64(t, m, tokens)
			for _, act := range []string{"f32", "f16"} {
				t.Run(fmt.Sprintf("%s/%v/%s", preset, dt, act), func(t *testing.T) {
					c, err := newCtx(m, act)
					require.NoError(t, err)
					got, err := c.Forward(tokens, 0)
					c.Close()
					require.NoError(t, err)
					// F32 weights, f32 storage: float32 rounding only. f16
					// storage: every stored value carries up to 2^-11
					// relative error. Quantized weights: the reference
					// (ggml-cpu arithmetic) quantizes the activations to 8
					// bits for the dot products, which the exact oracle does
					// not, so only gross errors (NMSE ~1) are caught here —
					// the per-op check is backendtest's and parity's local
					// oracle's.
					limit := map[string]float64{"f32": 1e-9, "f16": 1e-5}[act]
					if dt != gguf.TypeF32 {
						limit = 5e-3
					}
					V := m.Config.Vocab
					require.Len(t, got, len(want))
					worst := 0.0
					for p := range tokens {
						row := make([]float64, V)
						for j, v := range got[p*V : (p+1)*V] {
							row[j] = float64(v)
						}
						worst = max(worst, float64(parity.Compare(row, want[p*V:(p+1)*V], parity.F32).NMSE))
					}
					t.Logf("worst-position logits NMSE %.3g", worst)
					assert.LessOrEqual(t, worst, limit, "logits NMSE against the float64 oracle")
				})
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
