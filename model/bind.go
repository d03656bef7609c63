package model

import (
	"errors"
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/gguf"
)

// ErrBind is wrapped by every Bind error (a *BindError).
var ErrBind = errors.New("model: weights do not match the architecture")

// BindError lists every problem Bind found, so one run shows them all.
type BindError struct {
	Arch       string
	Missing    []string // expected tensors absent from the file
	Unexpected []string // tensors in the file the architecture does not use
	Shape      []string // "name: file [..], want [K N] (K=…, N=…)"
	Type       []string // tensors whose type cannot be dequantized
}

// Error lists the problems, one group per line.
func (e *BindError) Error() string {
	n := len(e.Missing) + len(e.Unexpected) + len(e.Shape) + len(e.Type)
	var b strings.Builder
	fmt.Fprintf(&b, "model: %d problem(s) binding %s weights", n, e.Arch)
	group := func(title string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, "\n  %s (%d): %s", title, len(items), strings.Join(items, "; "))
		}
	}
	group("missing", e.Missing)
	group("unexpected", e.Unexpected)
	group("wrong shape", e.Shape)
	group("unusable type", e.Type)
	return b.String()
}

// Unwrap returns ErrBind.
func (e *BindError) Unwrap() error { return ErrBind }

// binder collects weights and problems.
type binder struct {
	f    *gguf.File
	used map[string]bool
	err  BindError
}

// get binds the tensor name with the architecture's (K, N); N = 1 for
// vectors. Problems are recorded and a Weight with nil Data is returned.
func (b *binder) get(name string, k, n int) Weight {
	w := Weight{Name: name, K: k, N: n}
	t, ok := b.f.Tensor(name)
	if !ok {
		b.err.Missing = append(b.err.Missing, name)
		return w
	}
	b.used[name] = true
	w.Type = t.Type
	if !shapeIs(t.Shape, k, n) {
		want := fmt.Sprintf("[%d %d]", k, n)
		if n == 1 {
			want = fmt.Sprintf("[%d]", k)
		}
		b.err.Shape = append(b.err.Shape, fmt.Sprintf("%s: file %v, want %s (K=%d, N=%d)", name, t.Shape, want, k, n))
		return w
	}
	if !t.Type.CanDequantize() {
		b.err.Type = append(b.err.Type, fmt.Sprintf("%s: %v cannot be dequantized", name, t.Type))
		return w
	}
	w.Data = b.f.Data(t)
	return w
}

// shapeIs reports whether a GGUF shape is [k, n] (or [k] for n = 1), allowing
// trailing dimensions of 1 as llama.cpp does.
func shapeIs(shape []int64, k, n int) bool {
	want := []int64{int64(k), int64(n)}
	for i := range max(len(shape), 2) {
		got, w := int64(1), int64(1)
		if i < len(shape) {
			got = shape[i]
		}
		if i < 2 {
			w = want[i]
		}
		if got != w {
			return false
		}
	}
	return true
}

// Bind maps every tensor the architecture of cfg needs, checking each
// against the (K, N) the config implies. It is strict: the returned error (a
// *BindError wrapping ErrBind) names every missing tensor, every tensor of
// the file the architecture does not use, every shape mismatch and every
// tensor whose type cannot be dequantized. The weights alias f's mapping.
func Bind(f *gguf.File, cfg *Config) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &binder{f: f, used: map[string]bool{}, err: BindError{Arch: cfg.Arch}}
	d, hd, ff := cfg.Dim, cfg.HeadDim, cfg.FF
	qd, kvd := cfg.Heads*hd, cfg.KVHeads*hd
	w := &Weights{Layers: make([]Layer, cfg.Layers)}
	w.Embd = b.get("token_embd.weight", d, cfg.Vocab)
	for i := range w.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		l := &w.Layers[i]
		l.AttnNorm = b.get(p+"attn_norm.weight", d, 1)
		l.Q = b.get(p+"attn_q.weight", d, qd)
		l.K = b.get(p+"attn_k.weight", d, kvd)
		l.V = b.get(p+"attn_v.weight", d, kvd)
		if cfg.QKVBias {
			l.QBias = b.get(p+"attn_q.bias", qd, 1)
			l.KBias = b.get(p+"attn_k.bias", kvd, 1)
			l.VBias = b.get(p+"attn_v.bias", kvd, 1)
		}
		if cfg.QKNorm {
			l.QNorm = b.get(p+"attn_q_norm.weight", hd, 1)
			l.KNorm = b.get(p+"attn_k_norm.weight", hd, 1)
		}
		l.O = b.get(p+"attn_output.weight", qd, d)
		l.FFNNorm = b.get(p+"ffn_norm.weight", d, 1)
		l.Gate = b.get(p+"ffn_gate.weight", d, ff)
		l.Up = b.get(p+"ffn_up.weight", d, ff)
		l.Down = b.get(p+"ffn_down.weight", ff, d)
	}
	w.OutputNorm = b.get("output_norm.weight", d, 1)
	if cfg.TiedOutput {
		w.Output = w.Embd
	} else {
		w.Output = b.get("output.weight", d, cfg.Vocab)
	}
	for _, t := range f.Tensors {
		if !b.used[t.Name] {
			b.err.Unexpected = append(b.err.Unexpected, t.Name)
		}
	}
	e := &b.err
	if len(e.Missing)+len(e.Unexpected)+len(e.Shape)+len(e.Type) > 0 {
		return nil, e
	}
	return w, nil
}
