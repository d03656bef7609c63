package llamacpp

import (
	"runtime"

	"github.com/metallic-go/metallic/model"
)

// Options configure a llama.cpp path.
type Options struct {
	model.PathOptions
	// LibDir is the library folder; it overrides PathOptions.LibDir. When
	// both are empty, LibDir("") decides.
	LibDir string
	// Batch is the most positions one llama_decode call takes (n_batch and
	// n_ubatch); longer Forward calls are split into chunks of Batch
	// positions, each delivering its own checkpoints. 0 means min(Ctx, 512).
	Batch int
	// LlamaDefaults leaves the KV-cache type and flash attention at
	// llama.cpp's own defaults (llama_context_default_params: f16 K and
	// V, flash_attn_type auto, which llama.cpp turns on for its CPU
	// backend), ignoring PathOptions.KVDType and FlashAttn: llama.cpp as
	// its tools run it. The path then reports KV f16 and flash on.
	LlamaDefaults bool
}

// libDir is the folder the options ask for ("" = default lookup).
func (o Options) libDir() string {
	if o.LibDir != "" {
		return o.LibDir
	}
	return o.PathOptions.LibDir
}

// resolved fills the defaults that depend on the model.
func (o Options) resolved(cfg *model.Config) Options {
	if o.Ctx <= 0 {
		o.Ctx = min(cfg.ContextLen, 4096)
		if o.Ctx <= 0 {
			o.Ctx = 4096
		}
	}
	if o.Batch <= 0 {
		o.Batch = min(o.Ctx, 512)
	}
	o.Batch = min(o.Batch, o.Ctx)
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	if o.ActDType == "" {
		o.ActDType = "f32"
	}
	o.KVDType = model.KVDTypeOf(o.PathOptions)
	if o.LlamaDefaults {
		o.KVDType, o.FlashAttn = "f16", true
	}
	if o.Backend == "" {
		o.Backend = "cpu"
	}
	return o
}

// GraphNode is one tensor of llama.cpp's compute graph as the eval
// callback sees it (see Path.Trace).
type GraphNode struct {
	Name       string   // tensor name, e.g. "Qcur-0"
	Op         string   // ggml op, e.g. "MUL_MAT"
	Type       string   // ggml type, e.g. "F32"
	Shape      [4]int64 // ne
	Checkpoint string   // the checkpoint it is captured as, "" if none
}
