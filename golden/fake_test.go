package golden

import (
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"math"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// The "golden-fake" path is a small deterministic stand-in for an execution
// path, so that this package's format, record and verify logic is tested on
// its own. It reads stories260K's embedding and runs, per position,
//
//	embd          x = E[token]
//	blk.L.attn_norm  a = 1.01·x + 0.001·(pos+1)·(L+1)   (per layer)
//	blk.L.l_out      x = tanh(a) + mean of the previous positions' l_out (a "cache")
//	logits        z[v] = Σ_j x[j]·E[v][j]
//
// It calls the hook for every checkpoint and continues with what the hook
// left in the data, as real paths must.
const fakePath = "golden-fake"

func init() {
	model.RegisterPath(fakePath, func(m *model.Model, opts model.PathOptions) (model.Path, error) {
		e := m.Weights.Embd
		f := &fake{cfg: &m.Config, embd: make([]float32, e.K*e.N), num: opts.Numerics}
		if f.num == "" {
			f.num = "ggml-cpu" // the cpu backend's default, as the real paths
		}
		if err := gguf.Dequantize(e.Type, e.Data, f.embd); err != nil {
			return nil, err
		}
		return f, nil
	})
}

type fake struct {
	num   string // the profile it was opened with
	cfg   *model.Config
	embd  []float32
	cache [][]float32 // per layer: sum of l_out rows so far, flattened per position
	n     int
	hook  model.Hook
}

func (f *fake) Name() string          { return fakePath }
func (f *fake) Numerics() string      { return f.num }
func (f *fake) Config() *model.Config { return f.cfg }
func (f *fake) Reset()                { f.cache, f.n = nil, 0 }
func (f *fake) SetHook(h model.Hook)  { f.hook = h }
func (f *fake) Close() error          { return nil }
func (f *fake) Checkpoints() []string { return []string{"embd", "attn_norm", "l_out", "logits"} }
func (f *fake) emit(name string, layer, pos, rows, cols int, data []float32) {
	if f.hook != nil {
		f.hook(&model.Tensor{Name: name, Layer: layer, Pos: pos, Rows: rows, Cols: cols, Data: data})
	}
}

func (f *fake) Forward(tokens []int32, pos int) ([]float32, error) {
	if pos != f.n {
		return nil, fmt.Errorf("fake: pos %d, cache holds %d", pos, f.n)
	}
	d, T, V := f.cfg.Dim, len(tokens), f.cfg.Vocab
	if f.cache == nil {
		f.cache = make([][]float32, f.cfg.Layers)
	}
	x := make([]float32, T*d)
	for t, id := range tokens {
		copy(x[t*d:(t+1)*d], f.embd[int(id)*d:(int(id)+1)*d])
	}
	f.emit("embd", -1, pos, T, d, x)
	for l := 0; l < f.cfg.Layers; l++ {
		a := make([]float32, T*d)
		for i := range a {
			a[i] = 1.01*x[i] + 0.001*float32(pos+i/d+1)*float32(l+1)
		}
		f.emit(model.CheckpointName("attn_norm", l), l, pos, T, d, a)
		for t := 0; t < T; t++ {
			prev := f.cache[l]
			n := len(prev) / d
			for j := 0; j < d; j++ {
				var s float32
				for k := 0; k < n; k++ {
					s += prev[k*d+j]
				}
				if n > 0 {
					s /= float32(n)
				}
				x[t*d+j] = float32(math.Tanh(float64(a[t*d+j]))) + 0.5*s
			}
			f.cache[l] = append(f.cache[l], x[t*d:(t+1)*d]...)
		}
		f.emit(model.CheckpointName("l_out", l), l, pos, T, d, x)
	}
	z := make([]float32, T*V)
	for t := 0; t < T; t++ {
		for v := 0; v < V; v++ {
			var s float32
			for j := 0; j < d; j++ {
				s += x[t*d+j] * f.embd[v*d+j]
			}
			z[t*V+v] = s
		}
	}
	f.emit("logits", -1, pos, T, V, z)
	f.n += T
	return z, nil
}

// repoFile returns a path relative to the repository root.
func repoFile(t testing.TB, rel string) string {
	return filepath.Join(testenv.RepoRoot(t), rel)
}
