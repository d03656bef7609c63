package synth

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/tokenizer"
)

// Options select what Build writes.
type Options struct {
	Preset string    // a name from Presets
	DType  gguf.Type // matrix type (DTypes): F32 (the zero value), F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K or IQ4_NL
	// Mix, when not empty, is one of llama.cpp's quantization presets
	// (Mixes: q4_k_m, q5_k_m, q3_k_m, q8_0) and replaces DType: each
	// matrix gets the type llama-quantize gives it, fallbacks included.
	Mix  string
	Seed uint64
	// VocabFile is a Hugging Face tokenizer.json to take the Qwen
	// vocabulary from (its first QwenTokens tokens; every token for
	// qwen2.5-0.5b). Empty means the embedded Qwen sub-vocabulary.
	VocabFile string
	// QwenVocab, when set, is a full Qwen vocabulary already read (e.g. by
	// tokenizer.VocabFromHFJSON) used instead of VocabFile. It is not
	// modified.
	QwenVocab *tokenizer.Vocab
}

// DTypes lists the matrix types Build accepts.
func DTypes() []gguf.Type {
	return []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1,
		gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL}
}

// fileType maps a requested type to llama.cpp's general.file_type
// (enum llama_ftype): all F32, mostly F16, Q4_0, Q8_0, Q4_K_S, Q6_K, BF16.
var fileType = map[gguf.Type]uint32{
	gguf.TypeF32: 0, gguf.TypeF16: 1, gguf.TypeQ4_0: 2, gguf.TypeQ4_1: 3, gguf.TypeQ8_0: 7,
	gguf.TypeQ5_0: 8, gguf.TypeQ5_1: 9, gguf.TypeQ4_K: 14, gguf.TypeQ6_K: 18, gguf.TypeIQ4_NL: 25, gguf.TypeBF16: 32,
}

// Info describes a built model.
type Info struct {
	Preset    Preset            `json:"preset"`
	DType     string            `json:"dtype"`
	Seed      uint64            `json:"seed"`
	Vocab     int               `json:"vocab"`
	Tensors   int               `json:"tensors"`
	Params    int64             `json:"params"`
	Mix       string            `json:"mix,omitempty"`       // the llama.cpp preset, when Options.Mix was set
	Types     map[string]int    `json:"types,omitempty"`     // stored type → matrices, for a mix
	Fallbacks map[string]string `json:"fallbacks,omitempty"` // tensor → stored type, where it differs from DType (a mix: its default type)
	Bytes     int64             `json:"bytes,omitempty"`     // file size, once written
}

type kv struct {
	k string
	v any
}

// Build generates the model and returns a writer holding it (the tensor
// data lives in memory until written) and its description.
func Build(opts Options) (*gguf.Writer, *Info, error) {
	p, err := Lookup(opts.Preset)
	if err != nil {
		return nil, nil, err
	}
	var mx *mix
	if opts.Mix != "" {
		m, err := lookupMix(opts.Mix)
		if err != nil {
			return nil, nil, err
		}
		mx = &m
		opts.DType = m.base
	} else if _, ok := fileType[opts.DType]; !ok {
		var names []string
		for _, t := range DTypes() {
			names = append(names, strings.ToLower(t.String()))
		}
		return nil, nil, fmt.Errorf("synth: dtype %v is not supported (want one of %s)", opts.DType, strings.Join(names, ", "))
	}
	v, err := vocabFor(p, opts)
	if err != nil {
		return nil, nil, err
	}
	typeOf := func(name string, layer, k, vIndex int) gguf.Type { return storageType(opts.DType, k) }
	ftype := fileType[opts.DType]
	if mx != nil {
		typeOf = func(name string, layer, k, vIndex int) gguf.Type { return mx.mixType(p, name, layer, k, vIndex) }
		ftype = mx.fileType
	}
	ts := tensors(p, len(v.Tokens), typeOf)
	if err := generate(ts, opts.Seed); err != nil {
		return nil, nil, err
	}
	info := &Info{Preset: p, DType: strings.ToLower(opts.DType.String()), Seed: opts.Seed, Vocab: len(v.Tokens), Tensors: len(ts)}
	if mx != nil {
		info.Mix = mx.name
		info.Types = map[string]int{}
	}
	w := gguf.NewWriter()
	for _, e := range metadata(p, opts, ftype) {
		if err := w.AddKV(e.k, e.v); err != nil {
			return nil, nil, err
		}
	}
	if err := v.AddToGGUF(w); err != nil {
		return nil, nil, fmt.Errorf("synth: vocabulary: %w", err)
	}
	for _, t := range ts {
		if err := w.AddTensor(t.name, t.typ, t.shape, t.data); err != nil {
			return nil, nil, err
		}
		n := int64(1)
		for _, d := range t.shape {
			n *= d
		}
		info.Params += n
		if len(t.shape) == 2 && info.Types != nil {
			info.Types[strings.ToLower(t.typ.String())]++
		}
		if len(t.shape) == 2 && t.typ != opts.DType {
			if info.Fallbacks == nil {
				info.Fallbacks = map[string]string{}
			}
			info.Fallbacks[t.name] = strings.ToLower(t.typ.String())
		}
	}
	return w, info, nil
}

// metadata lists the general.* and <arch>.* keys llama.cpp reads.
func metadata(p Preset, opts Options, ftype uint32) []kv {
	a := p.Arch
	m := []kv{
		{"general.architecture", a},
		{"general.name", fmt.Sprintf("metallic synth %s (seed %d)", p.Name, opts.Seed)},
		{"general.file_type", ftype},
		{"general.quantization_version", uint32(2)},
		{a + ".context_length", uint32(p.ContextLen)},
		{a + ".embedding_length", uint32(p.Dim)},
		{a + ".block_count", uint32(p.Layers)},
		{a + ".feed_forward_length", uint32(p.FF)},
		{a + ".attention.head_count", uint32(p.Heads)},
		{a + ".attention.head_count_kv", uint32(p.KVHeads)},
		{a + ".attention.layer_norm_rms_epsilon", p.NormEps},
		{a + ".rope.freq_base", p.RopeBase},
	}
	if p.Arch == "llama" {
		m = append(m, kv{a + ".rope.dimension_count", uint32(p.HeadDim)})
	}
	if p.KeyLength {
		m = append(m, kv{a + ".attention.key_length", uint32(p.HeadDim)}, kv{a + ".attention.value_length", uint32(p.HeadDim)})
	}
	return m
}

// WriteTo builds the model and writes it to out.
func WriteTo(out io.Writer, opts Options) (*Info, error) {
	w, info, err := Build(opts)
	if err != nil {
		return nil, err
	}
	n, err := w.WriteTo(out)
	info.Bytes = n
	return info, err
}

// WriteFile builds the model and writes it to path (through a temporary
// file in the same folder, renamed at the end, so a failed run leaves no
// partial model behind).
func WriteFile(path string, opts Options) (*Info, error) {
	w, info, err := Build(opts)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	n, err := w.WriteTo(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("synth: writing %s: %w", path, err)
	}
	info.Bytes = n
	return info, nil
}
