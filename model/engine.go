package model

import (
	"fmt"
	"strings"
)

// Engine is the configuration of the outside engine a path runs (llama.cpp
// for the llamacpp path): what a user comparing with that engine's own
// tools must know, so reports print it in headers and JSON.
type Engine struct {
	Name       string `json:"name"`        // "llama.cpp"
	Build      string `json:"build"`       // versions of the build, e.g. "0.5.0-dev (ggml 0.25.1, 0ad4a86)"
	CPUVariant string `json:"cpu_variant"` // the CPU backend in use, e.g. "zen4" (libggml-cpu-zen4)
	KV         string `json:"kv"`          // KV-cache storage: "f32" or "f16"
	FlashAttn  bool   `json:"flash_attn"`  // flash attention on
	Threads    int    `json:"threads"`
	Ctx        int    `json:"ctx"`   // context size asked for
	Batch      int    `json:"batch"` // positions per decode call (n_batch = n_ubatch)
}

// String is one line: "llama.cpp 0.5.0-dev (…): libggml-cpu-zen4, KV f16,
// flash attention on, 1 thread, ctx 128, batch 128".
func (e Engine) String() string {
	fa := "off"
	if e.FlashAttn {
		fa = "on"
	}
	th := "threads"
	if e.Threads == 1 {
		th = "thread"
	}
	parts := []string{fmt.Sprintf("KV %s", e.KV), "flash attention " + fa, fmt.Sprintf("%d %s", e.Threads, th),
		fmt.Sprintf("ctx %d", e.Ctx), fmt.Sprintf("batch %d", e.Batch)}
	if e.CPUVariant != "" {
		parts = append([]string{"libggml-cpu-" + e.CPUVariant}, parts...)
	}
	return fmt.Sprintf("%s %s: %s", e.Name, e.Build, strings.Join(parts, ", "))
}

// EnginePath is implemented by paths that run an outside engine.
type EnginePath interface {
	Path
	// Engine is the engine's configuration as the path runs it.
	Engine() Engine
}

// EngineOf returns the configuration of the first of paths that runs an
// outside engine, or nil when none does.
func EngineOf(paths ...Path) *Engine {
	for _, p := range paths {
		if ep, ok := p.(EnginePath); ok && ep != nil {
			e := ep.Engine()
			return &e
		}
	}
	return nil
}
