package model

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// KVDTypeOf returns the KV cache's storage dtype the options ask for:
// KVDType, or ActDType when KVDType is empty, or "f32" when both are.
func KVDTypeOf(o PathOptions) string {
	switch {
	case o.KVDType != "":
		return o.KVDType
	case o.ActDType != "":
		return o.ActDType
	}
	return "f32"
}

// CheckFlashAttn is the one rule of where flash attention (PathOptions.
// FlashAttn) applies: the llamacpp path (llama.cpp's own kernel) and the
// reference path, which reproduces ggml's CPU flash attention under the
// ggml-cpu numerics profile (the arithmetic it reproduces; the plain
// profile has no flash kernel, so the reference path refuses flash under
// PathOptions.Numerics "plain", or "" on a backend whose default is plain). The dsl path has no flash kernel. Asking a
// path for it where it does not apply is an error, never ignored.
// OpenPath applies it before every opener; paths constructed directly
// apply it in their New.
func CheckFlashAttn(path string, o PathOptions) error {
	if !o.FlashAttn {
		return nil
	}
	switch path {
	case "llamacpp":
		return nil
	case "reference":
		num := backend.Numerics(o.Numerics)
		if num == "" {
			num = backend.DefaultNumerics(o.Backend)
		}
		if num != backend.GGMLCPU {
			return fmt.Errorf("model: flash attention does not apply to the reference path under %s numerics (it reproduces ggml's CPU flash kernel under %s only)", num, backend.GGMLCPU)
		}
		return nil
	}
	return fmt.Errorf("model: flash attention does not apply to the %s path (it has no flash kernel; flash attention runs on llamacpp, and on reference under ggml-cpu numerics)", path)
}
