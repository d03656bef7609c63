package golden

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// ErrCorrupt is wrapped by every error about a golden file that is
// truncated or damaged (a checksum that does not match, a tensor outside
// the file). The message names the bad tensor or key.
var ErrCorrupt = errors.New("golden: corrupt file")

// ErrFormat is wrapped by errors about a file that is not a golden or is of
// another format version.
var ErrFormat = errors.New("golden: not a readable golden")

// Open reads and checks a golden file: the magic and version, the SHA-256
// of every tensor and of the metadata, and the shapes. It returns an error
// (never panics) for any damaged file.
func Open(path string) (*Golden, error) {
	f, err := gguf.Open(path)
	if err != nil {
		if errors.Is(err, gguf.ErrMalformed) {
			return nil, fmt.Errorf("%w: truncated or damaged: %v", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("golden: %w", err)
	}
	defer f.Close()
	g, err := decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// decode checks and decodes an open GGUF file.
func decode(f *gguf.File) (*Golden, error) {
	if magic, _ := f.String(KeyMagic); magic != Magic {
		return nil, fmt.Errorf("%w: no %s=%q key: this GGUF file is not a metallic golden (record one with `paritycheck golden record`)", ErrFormat, KeyMagic, Magic)
	}
	v, ok := f.Uint(KeyVersion)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s is missing", ErrCorrupt, KeyVersion)
	case v > Version:
		return nil, fmt.Errorf("%w: golden format version %d is newer than this tool's %d: update paritycheck", ErrFormat, v, Version)
	case v < Version:
		return nil, fmt.Errorf("%w: golden format version %d is older than this tool's %d: re-record it with `paritycheck golden record`", ErrFormat, v, Version)
	}

	// Tensor checksums first, so that damage in a tensor is reported by name.
	for i := range f.Tensors {
		t := &f.Tensors[i]
		want, ok := f.String(KeyTensorSHA256 + t.Name)
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q has no recorded checksum (%s%s)", ErrCorrupt, t.Name, KeyTensorSHA256, t.Name)
		}
		sum := sha256.Sum256(f.Data(t))
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("%w: tensor %q checksum mismatch: sha256 %s, recorded %s", ErrCorrupt, t.Name, got, want)
		}
	}
	if want, _ := f.String(KeyMetaSHA256); want != metaChecksum(f.KV, f.Tensors) {
		return nil, fmt.Errorf("%w: metadata checksum mismatch (%s): a metadata value or a tensor description was changed", ErrCorrupt, KeyMetaSHA256)
	}

	g := &Golden{}
	if err := decodeMeta(f, &g.Meta); err != nil {
		return nil, err
	}
	runs := map[string]*Run{}
	for _, p := range g.Meta.Paths {
		g.Runs = append(g.Runs, Run{Path: p})
	}
	for i := range g.Runs {
		runs[g.Runs[i].Path] = &g.Runs[i]
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		path, name, ok := strings.Cut(t.Name, "/")
		r := runs[path]
		if !ok || r == nil {
			return nil, fmt.Errorf("%w: tensor %q does not belong to a recorded path %v", ErrCorrupt, t.Name, g.Meta.Paths)
		}
		if name == tensorTokens {
			if t.Type != gguf.TypeI32 || len(t.Shape) != 1 {
				return nil, fmt.Errorf("%w: tensor %q must be a 1-D I32, is %v %v", ErrCorrupt, t.Name, t.Type, t.Shape)
			}
			b := f.Data(t)
			r.Tokens = make([]int32, len(b)/4)
			for k := range r.Tokens {
				r.Tokens[k] = int32(binary.LittleEndian.Uint32(b[4*k:]))
			}
			continue
		}
		c, err := decodeFloats(f, t, g.Meta.Storage)
		if err != nil {
			return nil, err
		}
		c.Name, c.Layer = name, -1
		if name == tensorGenLogits {
			r.GenLogits = c
			continue
		}
		_, layer, err := model.ParseCheckpoint(name)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrCorrupt, t.Name, err)
		}
		c.Layer = layer
		r.Checkpoints = append(r.Checkpoints, c)
	}
	for i := range g.Runs {
		r := &g.Runs[i]
		if len(r.Tokens) != g.Meta.NGenerated || (len(r.Tokens) > 0 && r.GenLogits.Rows != len(r.Tokens)) {
			return nil, fmt.Errorf("%w: path %s has %d tokens and %d generation logit rows, want %d (%s)",
				ErrCorrupt, r.Path, len(r.Tokens), r.GenLogits.Rows, g.Meta.NGenerated, KeyNGenerated)
		}
	}
	return g, nil
}

// decodeFloats reads a [cols, rows] F32 or F16 tensor.
func decodeFloats(f *gguf.File, t *gguf.TensorInfo, storage string) (Checkpoint, error) {
	want := gguf.TypeF32
	if storage == storageF16 {
		want = gguf.TypeF16
	}
	if t.Type != want || len(t.Shape) != 2 || t.Shape[0] <= 0 || t.Shape[1] <= 0 {
		return Checkpoint{}, fmt.Errorf("%w: tensor %q is %v %v, want a 2-D %v (storage %s)", ErrCorrupt, t.Name, t.Type, t.Shape, want, storage)
	}
	c := Checkpoint{Rows: int(t.Shape[1]), Cols: int(t.Shape[0])}
	c.Data = make([]float32, c.Rows*c.Cols)
	if err := gguf.Dequantize(t.Type, f.Data(t), c.Data); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: tensor %q: %v", ErrCorrupt, t.Name, err)
	}
	return c, nil
}

// decodeMeta reads the provenance keys.
func decodeMeta(f *gguf.File, m *Meta) error {
	var missing []string
	str := func(key string) string {
		s, ok := f.String(key)
		if !ok {
			missing = append(missing, key)
		}
		return s
	}
	f32 := func(key string) float32 {
		v, ok := f.Get(key)
		x, isF := v.(float32)
		if !ok || !isF {
			missing = append(missing, key+" (float32)")
		}
		return x
	}
	m.Version = Version
	m.ModelSHA256 = str(KeyModelSHA256)
	m.ModelName = str(KeyModelName)
	m.ModelFile = str(KeyModelFile)
	m.Arch = str(KeyModelArch)
	m.Backend = str(KeyBackend)
	m.ActDType = str(KeyActDType)
	m.Numerics = LegacyNumerics
	if v, ok := f.Get(KeyNumerics); ok {
		s, isS := v.(string)
		if !isS || !knownNumerics(s) {
			return fmt.Errorf("%w: %s=%v, want plain, ggml-cpu or llamacpp", ErrCorrupt, KeyNumerics, v)
		}
		m.Numerics = s
	}
	m.PromptText = str(KeyPromptText)
	m.Storage = str(KeyStorage)
	m.ToolVersion = str(KeyToolVersion)
	m.Policy.Name = str(KeyPolicyName)
	created := str(KeyCreated)
	m.Sampler.Temperature = f32(KeyTemperature)
	m.Sampler.TopP = f32(KeyTopP)
	m.Sampler.MinP = f32(KeyMinP)
	m.Sampler.RepeatPenalty = f32(KeyRepeatPenalty)
	topK, ok1 := f.Int(KeyTopK)
	lastN, ok2 := f.Int(KeyRepeatLastN)
	seed, ok3 := f.Uint(KeySeed)
	n, ok4 := f.Uint(KeyNGenerated)
	prompt, ok5 := f.Int32s(KeyPromptTokens)
	paths, ok6 := f.Strings(KeyPaths)
	checks, ok7 := f.Strings(KeyCheckpoints)
	kinds, ok8 := f.Strings(KeyPolicyKinds)
	nmseV, _ := f.Get(KeyPolicyNMSE)
	nmse, ok9 := nmseV.([]float64)
	for i, ok := range []bool{ok1, ok2, ok3, ok4, ok5, ok6, ok7, ok8, ok9} {
		if !ok {
			missing = append(missing, []string{KeyTopK, KeyRepeatLastN, KeySeed, KeyNGenerated, KeyPromptTokens,
				KeyPaths, KeyCheckpoints, KeyPolicyKinds, KeyPolicyNMSE}[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing or mistyped metadata: %s", ErrCorrupt, strings.Join(missing, ", "))
	}
	m.Sampler.TopK, m.Sampler.RepeatLastN, m.Sampler.Seed = int(topK), int(lastN), seed
	m.NGenerated, m.PromptTokens, m.Paths, m.Checkpoints = int(n), prompt, paths, checks
	m.Policy.Kinds, m.Policy.NMSE = kinds, nmse
	var err error
	if m.Created, err = time.Parse(time.RFC3339, created); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, KeyCreated, err)
	}
	switch {
	case m.Storage != storageF32 && m.Storage != storageF16:
		return fmt.Errorf("%w: %s=%q, want f32 or f16", ErrCorrupt, KeyStorage, m.Storage)
	case len(kinds) != len(nmse):
		return fmt.Errorf("%w: %d tolerance kinds and %d thresholds", ErrCorrupt, len(kinds), len(nmse))
	case len(paths) == 0 || len(prompt) == 0:
		return fmt.Errorf("%w: a golden needs at least one path and one prompt token", ErrCorrupt)
	}
	for i, p := range paths {
		if p == "" || strings.Contains(p, "/") || slices.Contains(paths[:i], p) {
			return fmt.Errorf("%w: %s has a bad or repeated path name %q", ErrCorrupt, KeyPaths, p)
		}
	}
	return nil
}
