package parity

import (
	"fmt"

	"github.com/metallic-go/metallic/model"
)

// Setup is how a report's paths ran beyond their names and activation
// storage: the KV cache's storage, whether attention was ggml's flash
// kernel, and what llama.cpp ran with when it is one of the paths (nil
// otherwise). Reports embed it, so every JSON object has the keys "kv",
// "flash_attn" and "llamacpp", and every table header prints it.
type Setup struct {
	KV        DType         `json:"kv"`
	FlashAttn bool          `json:"flash_attn"`
	LlamaCpp  *model.Engine `json:"llamacpp"`
}

// SetupOf returns the setup of targets (the first one's KV storage and
// attention kernel; the options of a session are shared by its paths).
func SetupOf(targets []Target) Setup {
	var s Setup
	var paths []model.Path
	for _, t := range targets {
		paths = append(paths, t.Path)
	}
	if len(targets) > 0 {
		s.KV, s.FlashAttn = targets[0].kv(), targets[0].FlashAttn
	}
	s.LlamaCpp = model.EngineOf(paths...)
	return s
}

// Header is the header line: "attention: KV cache f16, flash attention on;
// llama.cpp …" (llama.cpp's part only when it ran).
func (s Setup) Header() string {
	fa := "off"
	if s.FlashAttn {
		fa = "on"
	}
	kv := s.KV
	if kv == "" {
		kv = F32
	}
	line := fmt.Sprintf("attention: KV cache %s, flash attention %s", kv, fa)
	if s.LlamaCpp != nil {
		line += "; " + s.LlamaCpp.String()
	}
	return line
}
