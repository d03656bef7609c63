package main

import (
	"flag"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// attnFlags are --kv and --flash-attn: the KV cache's storage and the
// attention kernel, for every command that opens paths. check validates
// their values; where they apply is a flag rule (below), whose flash
// attention part is model.CheckFlashAttn's rule (the one place it lives),
// so checkScope refuses them (exit 2) before anything runs.
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

// check validates the values of the flags.
func (a *attnFlags) check() error {
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
	return nil
}

// on reports whether --flash-attn is on.
func (a *attnFlags) on() bool { return a.flash == "on" }

// set sets the KV cache's dtype and flash attention in o.
func (a *attnFlags) set(o *model.PathOptions) {
	o.KVDType, o.FlashAttn = a.kv, a.on()
}

func init() {
	registerFlagRule("kv", flagRule{
		why:     "it sets the KV cache of the paths, and no path runs",
		applies: func(s *runScope) bool { return len(s.Paths) > 0 },
	})
	registerFlagRule("flash-attn", flagRule{whyNot: flashWhyNot})
}

// flashWhyNot is the rule of --flash-attn: "on" applies when every path of
// the run has a flash-attention kernel (model.CheckFlashAttn: llamacpp, and
// reference under ggml-cpu numerics); "off" applies when some path has one
// for it to turn off.
func flashWhyNot(s *runScope) string {
	var why string
	some := false
	for _, r := range s.refs() {
		o := model.PathOptions{Backend: r.Backend, Numerics: s.Numerics, FlashAttn: true}
		if err := model.CheckFlashAttn(r.Path, o); err != nil {
			if why == "" {
				why = strings.TrimPrefix(err.Error(), "model: ")
			}
		} else {
			some = true
		}
	}
	switch {
	case s.FlashAttn:
		return why
	case !some:
		return "no path of this run has a flash-attention kernel for --flash-attn off to turn off (flash attention runs on llamacpp, and on reference under ggml-cpu numerics)"
	}
	return ""
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
