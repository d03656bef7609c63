package main

import (
	"flag"

	"github.com/metallic-go/metallic/model"
)

// attnFlags are --kv and --flash-attn: the KV cache's storage and the
// attention kernel, for every command that opens paths. Which paths they
// apply to is model.CheckFlashAttn's rule (the one place it lives); apply
// turns a violation into a usage error (exit 2) before anything runs.
type attnFlags struct {
	kv, flash string
}

// addAttnFlags registers --kv and --flash-attn on fs.
func addAttnFlags(fs *flag.FlagSet) *attnFlags {
	a := &attnFlags{}
	fs.StringVar(&a.kv, "kv", "", "KV-cache storage of every path: f32 or f16 (default: the activations' dtype; llama.cpp's own tools use f16)")
	fs.StringVar(&a.flash, "flash-attn", "off", "attention as ggml's flash-attention kernel: on or off (llama.cpp's own tools: on); applies to llamacpp, and to reference under ggml-cpu numerics")
	return a
}

// apply checks the values, sets them in o and checks that they apply to
// every path of the run.
func (a *attnFlags) apply(o *model.PathOptions, paths []string) error {
	switch a.kv {
	case "", "f32", "f16":
	default:
		return usagef("--kv %q: want f32 or f16", a.kv)
	}
	switch a.flash {
	case "on", "off":
	default:
		return usagef("--flash-attn %q: want on or off", a.flash)
	}
	o.KVDType, o.FlashAttn = a.kv, a.flash == "on"
	for _, p := range paths {
		if err := model.CheckFlashAttn(p, *o); err != nil {
			return usagef("--flash-attn on: %v", err)
		}
	}
	return nil
}

// attnJSON are the keys of a single-path command's JSON object that say
// how attention ran: the KV cache's storage, the kernel, and llama.cpp's
// configuration when the path is llamacpp (null otherwise).
type attnJSON struct {
	KV        string        `json:"kv"`
	FlashAttn bool          `json:"flash_attn"`
	LlamaCpp  *model.Engine `json:"llamacpp"`
}

// attnOf returns the attention keys of path p opened with o.
func attnOf(p model.Path, o model.PathOptions) attnJSON {
	return attnJSON{KV: model.KVDTypeOf(o), FlashAttn: o.FlashAttn, LlamaCpp: model.EngineOf(p)}
}
