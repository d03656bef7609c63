package model

import (
	"fmt"
	"sort"

	"github.com/metallic-go/metallic/backend"
)

// Tensor is one checkpoint value produced by a path during a forward call:
// a row-major [Rows, Cols] float tensor, one row per position.
//
// Data holds the values as the path stores them (f16 storage is widened to
// float32 exactly). A Hook may modify Data in place (perturbation); the path
// then continues with the modified values (rounded back to its storage dtype).
// A hook that only observes must copy Data: the slice may alias a buffer the
// path reuses.
type Tensor struct {
	Name  string    // full checkpoint name, e.g. "blk.3.ffn_act" or "logits"
	Layer int       // block index, -1 outside blocks
	Pos   int       // position of row 0
	Rows  int       // number of positions in this forward call
	Cols  int       // row width
	Data  []float32 // len Rows*Cols
}

// Hook is called by a path each time it produces a checkpoint it
// materializes. Hooks run synchronously on the calling goroutine.
type Hook func(t *Tensor)

// Path is one execution path over one loaded model. Paths are not safe for
// concurrent use.
type Path interface {
	// Name is "reference", "dsl" or "llamacpp".
	Name() string
	// Numerics names the arithmetic the path computes with, settled when
	// it was opened: the numerics profile ("plain" or "ggml-cpu", see
	// backend/numerics.go) for metallic's own paths, NumericsLlamaCpp for
	// llama.cpp's own kernels. Oracles judge the path by the arithmetic it
	// declares here (parity applies the activation rounding it implies),
	// never by what its outputs look like.
	Numerics() string
	// Config is the model's hyper-parameters.
	Config() *Config
	// Forward runs tokens at positions pos, pos+1, …, appending their keys and
	// values to the KV cache, and returns the logits, row-major
	// [len(tokens), Vocab]. pos must equal the number of positions already in
	// the cache (0 after Reset).
	Forward(tokens []int32, pos int) ([]float32, error)
	// Reset empties the KV cache.
	Reset()
	// Checkpoints lists the checkpoint kinds this path materializes, by their
	// per-layer suffix ("attn_norm", "q", …) or global name ("embd",
	// "output_norm", "logits"): a subsequence of the model's checkpoint
	// graph, NewGraph(Config()).Kinds(), in its order.
	Checkpoints() []string
	// SetHook installs h (nil removes it). With a hook installed, the path
	// calls it for every materialized checkpoint of every forward call.
	SetHook(h Hook)
	// Close releases the path's resources.
	Close() error
}

// CheckpointName returns the full name of a checkpoint kind: "blk.L.kind"
// for layer ≥ 0, else kind itself.
func CheckpointName(kind string, layer int) string {
	if layer < 0 {
		return kind
	}
	return fmt.Sprintf("blk.%d.%s", layer, kind)
}

// ParseCheckpoint splits a full checkpoint name into its kind and layer
// (-1 outside blocks). It returns an error for names that are not of the
// form "blk.N.kind" or a known global kind.
func ParseCheckpoint(name string) (kind string, layer int, err error) {
	if n, ok := universal.Node(name); ok && !n.Block {
		return name, -1, nil
	}
	var l int
	var rest string
	if n, _ := fmt.Sscanf(name, "blk.%d.%s", &l, &rest); n == 2 && l >= 0 {
		if node, ok := universal.Node(rest); ok && node.Block && name == CheckpointName(rest, l) {
			return rest, l, nil
		}
		return "", 0, fmt.Errorf("model: unknown checkpoint kind %q in %q", rest, name)
	}
	return "", 0, fmt.Errorf("model: %q is not a checkpoint name (want blk.N.kind or one of embd, output_norm, logits)", name)
}

// PathOptions are the options every execution path accepts.
type PathOptions struct {
	Backend  string // "cpu" (default), "metal", "cuda"
	Ctx      int    // KV-cache capacity in positions; 0 means min(ContextLen, 4096)
	ActDType string // activation storage: "f32" (default) or "f16"
	// KVDType is the KV cache's storage, "f32" or "f16"; empty means
	// ActDType (f32 KV with f32 activations, f16 with f16). llama.cpp's own
	// tools default to f16 (see KVDTypeOf).
	KVDType string
	// FlashAttn computes attention as ggml's flash-attention kernel does
	// (llama.cpp's flash_attn_type on; llama.cpp's tools default to it).
	// Not every path has one: CheckFlashAttn.
	FlashAttn bool
	Threads   int // worker threads; 0 means GOMAXPROCS
	// Unfuse (dsl only) runs every composed kernel of two or more stages
	// as one dispatch per stage, each generated from the same stage code,
	// and materializes each stage's output as a stage checkpoint
	// (StagePath). The path's name gains UnfusedSuffix.
	Unfuse bool
	// Numerics is the numerics profile of the reference and dsl paths,
	// "plain" or "ggml-cpu"; empty means the backend's default
	// (backend.DefaultNumerics: ggml-cpu on cpu, plain elsewhere). A
	// backend that lacks the profile fails the open. The llamacpp path
	// computes with llama.cpp's own kernels and does not use it.
	Numerics string
	Spec     string // dsl only: spec file; empty means the embedded spec of the architecture
	LibDir   string // llamacpp only: library folder; empty means METALLIC_LLAMACPP_DIR or the test cache
	// WrapBackend, when set, wraps the backend a reference or dsl path
	// opens (backend.Options.Wrap): bench --profile observes every
	// dispatch through it. It must not change what the backend computes.
	WrapBackend func(backend.Backend) backend.Backend
}

// BackendOptions are the options a path opens its backend with: the
// threads and the wrapper of o.
func (o PathOptions) BackendOptions() backend.Options {
	return backend.Options{Threads: o.Threads, Wrap: o.WrapBackend}
}

// NumericsLlamaCpp is what the llamacpp path's Numerics returns: llama.cpp's
// own arithmetic (its CPU backend rounds activations for each weight's dot
// product as the ggml-cpu profile does). The numerics profiles themselves
// ("plain", "ggml-cpu") are named in package backend.
const NumericsLlamaCpp = "llamacpp"

// Opener creates a path over a loaded model.
type Opener func(m *Model, opts PathOptions) (Path, error)

var openers = map[string]Opener{}

// RegisterPath makes a path available by name to OpenPath. Path packages
// call it from init (as database/sql drivers do); a program links a path in
// by importing its package. It panics on a duplicate name.
func RegisterPath(name string, o Opener) {
	if _, dup := openers[name]; dup {
		panic("model: path " + name + " registered twice")
	}
	openers[name] = o
}

// OpenPath opens the named path over m, after CheckFlashAttn.
func OpenPath(name string, m *Model, opts PathOptions) (Path, error) {
	o, ok := openers[name]
	if !ok {
		return nil, fmt.Errorf("model: unknown path %q (linked in: %v)", name, PathNames())
	}
	if err := CheckFlashAttn(name, opts); err != nil {
		return nil, err
	}
	return o(m, opts)
}

// PathNames lists the registered paths in a fixed order: reference, dsl,
// llamacpp first, then any others sorted.
func PathNames() []string {
	var names []string
	for _, n := range []string{"reference", "dsl", "llamacpp"} {
		if _, ok := openers[n]; ok {
			names = append(names, n)
		}
	}
	var rest []string
	for n := range openers {
		if n != "reference" && n != "dsl" && n != "llamacpp" {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}
