package golden

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/sample"
)

// Magic is the value of KeyMagic in every golden file.
const Magic = "metallic-golden"

// Version is the golden format version this package writes and reads. A
// reader refuses files of a newer version (with a hint to upgrade) and of an
// older one (with the command to re-record).
const Version = 1

// Metadata keys. Every golden key starts with Prefix.
const (
	Prefix            = "metallic.golden."
	KeyMagic          = Prefix + "magic"
	KeyVersion        = Prefix + "version"
	KeyModelSHA256    = Prefix + "model.sha256"
	KeyModelName      = Prefix + "model.name"
	KeyModelFile      = Prefix + "model.file"
	KeyModelArch      = Prefix + "model.arch"
	KeyPaths          = Prefix + "paths"
	KeyBackend        = Prefix + "backend"
	KeyActDType       = Prefix + "act_dtype"
	KeyNumerics       = Prefix + "numerics"
	KeyTemperature    = Prefix + "sampler.temperature"
	KeyTopK           = Prefix + "sampler.top_k"
	KeyTopP           = Prefix + "sampler.top_p"
	KeyMinP           = Prefix + "sampler.min_p"
	KeyRepeatPenalty  = Prefix + "sampler.repeat_penalty"
	KeyRepeatLastN    = Prefix + "sampler.repeat_last_n"
	KeySeed           = Prefix + "sampler.seed"
	KeyPromptTokens   = Prefix + "prompt_tokens"
	KeyPromptText     = Prefix + "prompt_text"
	KeyNGenerated     = Prefix + "n_generated"
	KeyCheckpoints    = Prefix + "checkpoints"
	KeyStorage        = Prefix + "storage"
	KeyToolVersion    = Prefix + "tool_version"
	KeyCreated        = Prefix + "created"
	KeyPolicyName     = Prefix + "tolerance.policy"
	KeyPolicyKinds    = Prefix + "tolerance.kinds"
	KeyPolicyNMSE     = Prefix + "tolerance.nmse"
	KeyTensorSHA256   = Prefix + "sha256." // + tensor name
	KeyMetaSHA256     = Prefix + "meta_sha256"
	tensorGenLogits   = "gen_logits"
	tensorTokens      = "tokens"
	storageF32        = "f32"
	storageF16        = "f16"
	generalTypeGolden = "metallic-golden"
)

// Meta is a golden's provenance: everything needed to rerun it.
type Meta struct {
	Version     uint32
	ModelSHA256 string // hex SHA-256 of the model file
	ModelName   string // general.name of the model, may be empty
	ModelFile   string // base name of the model file when recorded
	Arch        string
	Paths       []string
	Backend     string
	ActDType    string
	// Numerics is the profile the recorded paths computed under ("plain"
	// or "ggml-cpu"; "llamacpp" when only llama.cpp was recorded). Goldens
	// written before profiles existed have no such key and read as
	// "ggml-cpu", the only arithmetic there was.
	Numerics     string
	Sampler      sample.Options
	PromptTokens []int32
	PromptText   string // the --prompt text, empty when tokens were given
	NGenerated   int
	Checkpoints  []string // selection globs; empty means all
	Storage      string   // "f32" or "f16"
	ToolVersion  string
	Created      time.Time // UTC
	Policy       Policy
}

// Checkpoint is one recorded tensor: a row-major [Rows, Cols] float tensor.
type Checkpoint struct {
	Name  string // full checkpoint name ("blk.3.ffn_act", "logits") or "gen_logits"
	Layer int    // block index, -1 outside blocks
	Rows  int
	Cols  int
	Data  []float32
}

// Run is one path's recorded run.
type Run struct {
	Path        string
	Checkpoints []Checkpoint // prompt positions, in the order the path produced them
	GenLogits   Checkpoint   // [n, vocab]: row i is what token i was sampled from
	Tokens      []int32      // the n generated tokens

	produced []string // every checkpoint the path produced during the prefill (Record's check)
}

// Golden is a decoded golden file.
type Golden struct {
	Meta Meta
	Runs []Run
	// Backends is, per recorded path, the backend it ran on and that
	// backend's provenance line, as Record saw it; it is not stored in
	// the file (nil after Open).
	Backends map[string]parity.PathBackend
}

// tensorName is the GGUF tensor name of a path's checkpoint.
func tensorName(path, name string) string { return path + "/" + name }

// Write builds the GGUF file of g. Checkpoints and generation logits are
// stored as F16 when g.Meta.Storage is "f16", else as F32.
func (g *Golden) Write() (*gguf.Writer, error) {
	m := &g.Meta
	if m.Storage != storageF32 && m.Storage != storageF16 {
		return nil, fmt.Errorf("golden: storage %q must be f32 or f16", m.Storage)
	}
	if len(m.Policy.Kinds) != len(m.Policy.NMSE) {
		return nil, fmt.Errorf("golden: policy has %d kinds and %d thresholds", len(m.Policy.Kinds), len(m.Policy.NMSE))
	}
	type tensor struct {
		name  string
		typ   gguf.Type
		shape []int64
		data  []byte
	}
	var tensors []tensor
	addFloats := func(path string, c *Checkpoint) error {
		if c.Rows*c.Cols != len(c.Data) || c.Rows <= 0 || c.Cols <= 0 {
			return fmt.Errorf("golden: %s/%s: %d values for shape [%d, %d]", path, c.Name, len(c.Data), c.Rows, c.Cols)
		}
		typ := gguf.TypeF32
		if m.Storage == storageF16 {
			typ = gguf.TypeF16
		}
		tensors = append(tensors, tensor{tensorName(path, c.Name), typ, []int64{int64(c.Cols), int64(c.Rows)}, encodeFloats(typ, c.Data)})
		return nil
	}
	for i := range g.Runs {
		r := &g.Runs[i]
		for j := range r.Checkpoints {
			if err := addFloats(r.Path, &r.Checkpoints[j]); err != nil {
				return nil, err
			}
		}
		if len(r.Tokens) > 0 {
			if err := addFloats(r.Path, &r.GenLogits); err != nil {
				return nil, err
			}
			b := make([]byte, 4*len(r.Tokens))
			for k, t := range r.Tokens {
				binary.LittleEndian.PutUint32(b[4*k:], uint32(t))
			}
			tensors = append(tensors, tensor{tensorName(r.Path, tensorTokens), gguf.TypeI32, []int64{int64(len(r.Tokens))}, b})
		}
	}

	checks := append([]string{}, m.Checkpoints...)
	prompt := append([]int32{}, m.PromptTokens...)
	kv := []gguf.KV{
		{Key: "general.type", Value: generalTypeGolden},
		{Key: "general.name", Value: "golden of " + m.ModelName},
		{Key: KeyMagic, Value: Magic},
		{Key: KeyVersion, Value: uint32(Version)},
		{Key: KeyModelSHA256, Value: m.ModelSHA256},
		{Key: KeyModelName, Value: m.ModelName},
		{Key: KeyModelFile, Value: m.ModelFile},
		{Key: KeyModelArch, Value: m.Arch},
		{Key: KeyPaths, Value: m.Paths},
		{Key: KeyBackend, Value: m.Backend},
		{Key: KeyActDType, Value: m.ActDType},
		{Key: KeyTemperature, Value: m.Sampler.Temperature},
		{Key: KeyTopK, Value: int32(m.Sampler.TopK)},
		{Key: KeyTopP, Value: m.Sampler.TopP},
		{Key: KeyMinP, Value: m.Sampler.MinP},
		{Key: KeyRepeatPenalty, Value: m.Sampler.RepeatPenalty},
		{Key: KeyRepeatLastN, Value: int32(m.Sampler.RepeatLastN)},
		{Key: KeySeed, Value: m.Sampler.Seed},
		{Key: KeyPromptTokens, Value: prompt},
		{Key: KeyPromptText, Value: m.PromptText},
		{Key: KeyNGenerated, Value: uint32(m.NGenerated)},
		{Key: KeyCheckpoints, Value: checks},
		{Key: KeyStorage, Value: m.Storage},
		{Key: KeyToolVersion, Value: m.ToolVersion},
		{Key: KeyCreated, Value: m.Created.UTC().Format(time.RFC3339)},
		{Key: KeyPolicyName, Value: m.Policy.Name},
		{Key: KeyPolicyKinds, Value: m.Policy.Kinds},
		{Key: KeyPolicyNMSE, Value: m.Policy.NMSE},
	}
	if m.Numerics != "" { // "" writes the form of goldens older than profiles
		kv = append(kv, gguf.KV{Key: KeyNumerics, Value: m.Numerics})
	}
	var infos []gguf.TensorInfo
	for _, t := range tensors {
		sum := sha256.Sum256(t.data)
		kv = append(kv, gguf.KV{Key: KeyTensorSHA256 + t.name, Value: hex.EncodeToString(sum[:])})
		infos = append(infos, gguf.TensorInfo{Name: t.name, Type: t.typ, Shape: t.shape})
	}
	kv = append(kv, gguf.KV{Key: KeyMetaSHA256, Value: metaChecksum(kv, infos)})

	w := gguf.NewWriter()
	for _, e := range kv {
		if err := w.AddKV(e.Key, e.Value); err != nil {
			return nil, fmt.Errorf("golden: %w", err)
		}
	}
	for _, t := range tensors {
		if err := w.AddTensor(t.name, t.typ, t.shape, t.data); err != nil {
			return nil, fmt.Errorf("golden: %w", err)
		}
	}
	return w, nil
}

// WriteFile writes g to path as a GGUF file.
func (g *Golden) WriteFile(path string) error {
	w, err := g.Write()
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

// metaChecksum hashes every metadata entry (except KeyMetaSHA256 itself) with its Go type, and every tensor's name, type and shape, in
// file order. Values round-trip through GGUF with their exact Go types, so
// the writer and the reader compute the same text.
func metaChecksum(kv []gguf.KV, infos []gguf.TensorInfo) string {
	h := sha256.New()
	for _, e := range kv {
		if e.Key == KeyMetaSHA256 {
			continue
		}
		fmt.Fprintf(h, "%q %T %v\n", e.Key, e.Value, e.Value)
	}
	for _, t := range infos {
		fmt.Fprintf(h, "tensor %q %v %v\n", t.Name, t.Type, t.Shape)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// encodeFloats stores x as little-endian F32 or F16.
func encodeFloats(t gguf.Type, x []float32) []byte {
	if t == gguf.TypeF16 {
		b := make([]byte, 2*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint16(b[2*i:], gguf.F32ToF16(v))
		}
		return b
	}
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// roundStorage returns x as the golden stores it: unchanged for f32,
// rounded to f16 (and widened back) for f16.
func roundStorage(storage string, x []float32) []float32 {
	if storage != storageF16 {
		return x
	}
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = gguf.F16ToF32(gguf.F32ToF16(v))
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
