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

// AVX512BF16Variant reports whether a libggml-cpu variant also uses the
// AVX512_BF16 dot product (vdpbf16ps), which backend/ggmlnum's BF16
// kernels reproduce; other AVX-512 builds sum BF16 products differently.
func AVX512BF16Variant(v string) bool {
	switch v {
	case "cooperlake", "sapphirerapids", "zen4":
		return true
	}
	return false
}
