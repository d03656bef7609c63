package kernel

import "os"

// noSIMD turns the SIMD row dots off (METALLIC_DSL_NOSIMD=1), so the pure
// Go definition runs; tests compare the two.
var noSIMD = os.Getenv("METALLIC_DSL_NOSIMD") == "1"
