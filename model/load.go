package model

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/metallic-go/metallic/gguf"
)

// ErrUnsupported is wrapped by errors about a well-formed file this package
// does not handle (an unknown architecture, per-layer hyper-parameters, RoPE
// scaling).
var ErrUnsupported = errors.New("model: unsupported")

// ErrInvalid is wrapped by errors about hyper-parameters that are missing or
// out of range.
var ErrInvalid = errors.New("model: invalid hyper-parameters")

// arch describes what differs between the supported architectures.
type arch struct {
	rope    RopeStyle
	qkvBias bool // q/k/v biases are required
	qkNorm  bool // per-head q/k RMSNorm
}

var archs = map[string]arch{
	"llama": {rope: RopeNormal},
	"qwen2": {rope: RopeNeoX, qkvBias: true},
	"qwen3": {rope: RopeNeoX, qkNorm: true},
}

// Architectures lists the supported values of general.architecture, sorted.
func Architectures() []string { return []string{"llama", "qwen2", "qwen3"} }

// Limits on hyper-parameters: anything larger is treated as a corrupt file.
const (
	maxDim     = 1 << 16
	maxLayers  = 1 << 10
	maxHeads   = 1 << 10
	maxHeadDim = 1 << 11
	maxFF      = 1 << 20
	maxVocab   = 1 << 22
	maxContext = 1 << 24
)

// LoadConfig reads the hyper-parameters of f's architecture from its
// "<arch>.*" metadata, with llama.cpp's defaults: rope.freq_base 10000,
// attention.head_count_kv = head_count, head dimension from
// attention.key_length else embedding_length/head_count,
// rope.dimension_count = head dimension. Vocab is the number of rows of
// token_embd.weight and TiedOutput is set when output.weight is absent.
//
// Errors wrap ErrUnsupported for an unknown architecture or unsupported
// features, and ErrInvalid for missing or out-of-range values.
func LoadConfig(f *gguf.File) (*Config, error) {
	name, ok := f.String("general.architecture")
	if !ok {
		return nil, fmt.Errorf("%w: general.architecture is missing (supported: %s)", ErrInvalid, strings.Join(Architectures(), ", "))
	}
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("%w: architecture %q (supported: %s)", ErrUnsupported, name, strings.Join(Architectures(), ", "))
	}
	r := &keyReader{f: f, arch: name}
	c := &Config{Arch: name, RopeStyle: a.rope, QKVBias: a.qkvBias, QKNorm: a.qkNorm}
	c.Name, _ = f.String("general.name")
	c.Dim = r.int("embedding_length", maxDim, -1)
	c.Layers = r.int("block_count", maxLayers, -1)
	c.FF = r.int("feed_forward_length", maxFF, -1)
	c.ContextLen = r.int("context_length", maxContext, -1)
	c.Heads = r.int("attention.head_count", maxHeads, -1)
	c.KVHeads = r.int("attention.head_count_kv", maxHeads, c.Heads)
	c.NormEps = float32(r.float("attention.layer_norm_rms_epsilon", math.NaN()))
	c.RopeBase = float32(r.float("rope.freq_base", 10000))
	if r.err != nil {
		return nil, r.err
	}
	hd := 0
	if c.Heads > 0 && c.Dim%c.Heads == 0 {
		hd = c.Dim / c.Heads
	}
	c.HeadDim = r.int("attention.key_length", maxHeadDim, hd)
	vd := r.int("attention.value_length", maxHeadDim, c.HeadDim)
	c.RopeDim = r.int("rope.dimension_count", maxHeadDim, c.HeadDim)
	r.ropeScaling()
	if r.err != nil {
		return nil, r.err
	}
	if vd != c.HeadDim {
		return nil, fmt.Errorf("%w: %s.attention.value_length %d differs from key_length %d", ErrUnsupported, name, vd, c.HeadDim)
	}

	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fmt.Errorf("%w: tensor token_embd.weight is missing, so the vocabulary size is unknown", ErrInvalid)
	}
	if len(emb.Shape) != 2 || emb.Shape[1] <= 0 || emb.Shape[1] > maxVocab {
		return nil, fmt.Errorf("%w: token_embd.weight has shape %v, want [%d, vocab ≤ %d]", ErrInvalid, emb.Shape, c.Dim, maxVocab)
	}
	c.Vocab = int(emb.Shape[1])
	if _, ok := f.Tensor("output.weight"); !ok {
		c.TiedOutput = true
	}
	if name == "llama" {
		// llama.cpp's llama accepts optional q/k/v biases.
		if _, ok := f.Tensor("blk.0.attn_q.bias"); ok {
			c.QKVBias = true
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks that the hyper-parameters are usable: positive sizes
// within sane limits, heads divisible by KV heads, an even RoPE dimension no
// larger than the head dimension, a positive epsilon below 1 and a positive
// finite RoPE base. Errors wrap ErrInvalid.
func (c *Config) Validate() error {
	var probs []string
	pos := func(name string, v, limit int) {
		if v <= 0 || v > limit {
			probs = append(probs, fmt.Sprintf("%s = %d, want 1…%d", name, v, limit))
		}
	}
	pos("embedding_length", c.Dim, maxDim)
	pos("block_count", c.Layers, maxLayers)
	pos("feed_forward_length", c.FF, maxFF)
	pos("context_length", c.ContextLen, maxContext)
	pos("attention.head_count", c.Heads, maxHeads)
	pos("attention.head_count_kv", c.KVHeads, maxHeads)
	pos("vocabulary size", c.Vocab, maxVocab)
	if c.HeadDim == 0 && c.Heads > 0 && c.Dim%c.Heads != 0 {
		probs = append(probs, fmt.Sprintf("embedding_length %d is not divisible by head_count %d and attention.key_length is absent", c.Dim, c.Heads))
	} else {
		pos("head dimension", c.HeadDim, maxHeadDim)
	}
	if c.Heads > 0 && c.KVHeads > 0 && c.Heads%c.KVHeads != 0 {
		probs = append(probs, fmt.Sprintf("head_count %d is not a multiple of head_count_kv %d", c.Heads, c.KVHeads))
	}
	if c.RopeDim <= 0 || c.RopeDim%2 != 0 || (c.HeadDim > 0 && c.RopeDim > c.HeadDim) {
		probs = append(probs, fmt.Sprintf("rope.dimension_count = %d, want an even number in 2…%d (the head dimension)", c.RopeDim, c.HeadDim))
	}
	if e := float64(c.NormEps); !(e > 0 && e < 1) {
		probs = append(probs, fmt.Sprintf("attention.layer_norm_rms_epsilon = %v, want 0 < eps < 1", c.NormEps))
	}
	if b := float64(c.RopeBase); !(b > 0) || math.IsInf(b, 0) {
		probs = append(probs, fmt.Sprintf("rope.freq_base = %v, want a positive finite number", c.RopeBase))
	}
	if _, ok := archs[c.Arch]; !ok {
		probs = append(probs, fmt.Sprintf("architecture %q is not one of %s", c.Arch, strings.Join(Architectures(), ", ")))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w (%s): %s", ErrInvalid, c.Arch, strings.Join(probs, "; "))
	}
	return nil
}

// keyReader reads "<arch>.key" values, keeping the first error.
type keyReader struct {
	f    *gguf.File
	arch string
	err  error
}

func (r *keyReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// int reads a non-negative integer ≤ limit. A missing key yields def, or an
// error when def < 0. An array whose elements are all equal (per-layer
// values that do not vary) is accepted as that value.
func (r *keyReader) int(key string, limit, def int) int {
	full := r.arch + "." + key
	v, ok := r.f.Get(full)
	if !ok {
		if def < 0 {
			r.fail(fmt.Errorf("%w: required key %s is missing", ErrInvalid, full))
			return 0
		}
		return def
	}
	if isArray(v) {
		s, ok := r.f.Int32s(full)
		if !ok || len(s) == 0 {
			r.fail(fmt.Errorf("%w: %s is %T, want an integer", ErrInvalid, full, v))
			return 0
		}
		for _, x := range s[1:] {
			if x != s[0] {
				r.fail(fmt.Errorf("%w: %s varies per layer (%v)", ErrUnsupported, full, s))
				return 0
			}
		}
		return r.check(full, int64(s[0]), limit)
	}
	n, ok := r.f.Int(full)
	if !ok {
		r.fail(fmt.Errorf("%w: %s is %T, want an integer", ErrInvalid, full, v))
		return 0
	}
	return r.check(full, n, limit)
}

func (r *keyReader) check(full string, n int64, limit int) int {
	if n < 0 || n > int64(limit) {
		r.fail(fmt.Errorf("%w: %s = %d, want 0…%d", ErrInvalid, full, n, limit))
		return 0
	}
	return int(n)
}

// isArray reports whether a metadata value is an array.
func isArray(v any) bool {
	switch v.(type) {
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []uint64, []int64, []float32, []float64, []bool, []string, []any:
		return true
	}
	return false
}

// float reads a number; a missing key yields def, or an error when def is NaN.
func (r *keyReader) float(key string, def float64) float64 {
	full := r.arch + "." + key
	v, ok := r.f.Get(full)
	if !ok {
		if math.IsNaN(def) {
			r.fail(fmt.Errorf("%w: required key %s is missing", ErrInvalid, full))
		}
		return def
	}
	x, ok := r.f.Float(full)
	if !ok {
		r.fail(fmt.Errorf("%w: %s is %T, want a number", ErrInvalid, full, v))
		return 0
	}
	return x
}

// ropeScaling rejects RoPE scaling, which no path implements.
func (r *keyReader) ropeScaling() {
	full := r.arch + ".rope.scaling.type"
	if s, ok := r.f.String(full); ok && s != "none" && s != "" {
		r.fail(fmt.Errorf("%w: %s = %q (only unscaled RoPE is implemented)", ErrUnsupported, full, s))
	}
	full = r.arch + ".rope.scaling.factor"
	if x, ok := r.f.Float(full); ok && x != 0 && x != 1 {
		r.fail(fmt.Errorf("%w: %s = %v (only unscaled RoPE is implemented)", ErrUnsupported, full, x))
	}
}
