package llamacpp

// AVX512Variant reports whether a libggml-cpu variant is built for
// AVX-512 (F and DQ), the kernels backend/ggmlnum reproduces.
func AVX512Variant(v string) bool {
	switch v {
	case "skylakex", "cannonlake", "cascadelake", "icelake", "cooperlake", "sapphirerapids", "zen4":
		return true
	}
	return false
}
