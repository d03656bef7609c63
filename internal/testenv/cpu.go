package testenv

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/cpu"
)

// GGML CPU features whose kernels backend/ggmlnum reproduces bit for bit.
const (
	// AVX512 is what ggml's AVX-512 builds (libggml-cpu-skylakex and
	// later) need: AVX512F, CD, BW, DQ and VL.
	AVX512 = "AVX-512"
	// AVX512BF16 is the vdpbf16ps dot product of the cooperlake,
	// sapphirerapids and zen4 builds (AVX-512 with AVX512_BF16).
	AVX512BF16 = "AVX512_BF16"
)

// CPUHas reports whether this CPU has a feature (AVX512 or AVX512BF16),
// from CPUID as golang.org/x/sys/cpu reads it; false on other
// architectures than amd64.
func CPUHas(feature string) bool {
	x := cpu.X86
	base := x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL
	switch feature {
	case AVX512:
		return base
	case AVX512BF16:
		return base && x.HasAVX512BF16
	}
	return false
}

// GGMLFeature decides what a bit-identity check against llama.cpp's CPU
// backend does when the backend's libggml-cpu variant may not use a
// feature: uses says whether the variant does, cpuHas whether this CPU
// has the feature, required whether METALLIC_REQUIRE_ORACLES=1. It returns
// "" when the check runs; otherwise the reason, and whether the test must
// fail rather than skip — it fails only when the oracle is required and
// the CPU has the feature, so that a build that could use it here does
// not. On a CPU without the feature no ggml build can use it, and the
// skip stands even on CI.
func GGMLFeature(variant, feature string, uses, cpuHas, required bool) (reason string, fail bool) {
	switch {
	case uses:
		return "", false
	case !cpuHas:
		return fmt.Sprintf("llama.cpp runs libggml-cpu-%s without %s: this CPU (%s) has no %s, so no ggml build can use it here and the bits of its kernels cannot be checked",
			variant, feature, runtime.GOARCH, feature), false
	}
	return fmt.Sprintf("llama.cpp runs libggml-cpu-%s, which does not use %s although this CPU has it: the bits of its kernels are not checked",
		variant, feature), required
}

// NeedGGMLFeature skips a bit-identity check that needs llama.cpp's CPU
// backend (libggml-cpu-variant) to use feature, when uses is false. Under
// METALLIC_REQUIRE_ORACLES=1 it fails instead, unless this CPU lacks the
// feature (see GGMLFeature); the message says which.
func NeedGGMLFeature(t testing.TB, variant, feature string, uses bool) {
	t.Helper()
	reason, fail := GGMLFeature(variant, feature, uses, CPUHas(feature), OraclesRequired())
	switch {
	case reason == "":
	case fail:
		t.Fatalf("oracle required (METALLIC_REQUIRE_ORACLES=1) but unavailable: %s", reason)
	default:
		t.Skip(reason)
	}
}
