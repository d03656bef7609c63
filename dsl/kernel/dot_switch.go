package kernel

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// The instruction set of the dsl CPU twin's row dots is chosen when the
// program starts: the best this CPU has (dotSets, best first: "avx512",
// "avx2", then "go", the pure Go definition), or the one named by
// METALLIC_DSL_SIMD (avx512, avx2, go or auto; METALLIC_DSL_NOSIMD=1 is
// the older spelling of go). Every set computes the same bits (dot.go),
// so the choice changes speed only; tests run each set.

// dotSet is one instruction set's row dots.
type dotSet struct {
	name string
	// tab holds the kernels by dtype; nil for the pure Go definition.
	tab *[64]*dotKernels
	// round rounds x to f16 and back in place for the elements it
	// handles (a multiple of its width) and returns their count.
	round func(x []float32) int
	// accum and rescale are attention's P·V updates over n·width floats
	// (accumPV, rescalePV); nil for the pure Go definition.
	accum   func(out, v *float32, p float32, n int)
	rescale func(out, v *float32, c, p float32, n int)
	width   int
}

// accumPV sets out[i] += p·v[i] for every i < len(out), each product
// rounded to float32 (no fused multiply-add).
func accumPV(out, v []float32, p float32) {
	v = v[:len(out)]
	n := 0
	if s := activeDots.Load(); s.accum != nil && len(out) >= s.width {
		n = len(out) / s.width * s.width
		s.accum(&out[0], &v[0], p, n/s.width)
	}
	for i := n; i < len(out); i++ {
		out[i] += float32(p * v[i])
	}
}

// rescalePV sets out[i] = out[i]·c + p·v[i] for every i < len(out), each
// product rounded to float32 (no fused multiply-add).
func rescalePV(out, v []float32, c, p float32) {
	v = v[:len(out)]
	n := 0
	if s := activeDots.Load(); s.rescale != nil && len(out) >= s.width {
		n = len(out) / s.width * s.width
		s.rescale(&out[0], &v[0], c, p, n/s.width)
	}
	for i := n; i < len(out); i++ {
		out[i] = float32(out[i]*c) + float32(p*v[i])
	}
}

var (
	activeDots atomic.Pointer[dotSet]
	// simdEnvErr is METALLIC_DSL_SIMD's error: a name that is not an
	// instruction set, or one this CPU lacks.
	simdEnvErr error
)

func init() {
	name := os.Getenv("METALLIC_DSL_SIMD")
	switch v := os.Getenv("METALLIC_DSL_NOSIMD"); v {
	case "", "0", "1":
	default:
		simdEnvErr = fmt.Errorf("METALLIC_DSL_NOSIMD=%q: want 1, 0 or unset", v)
	}
	if os.Getenv("METALLIC_DSL_NOSIMD") == "1" {
		if name != "" && name != "go" {
			simdEnvErr = fmt.Errorf("METALLIC_DSL_NOSIMD=1 (the pure Go row dots) conflicts with METALLIC_DSL_SIMD=%s", name)
		}
		name = "go"
	}
	sets := dotSets()
	activeDots.Store(sets[0])
	if name == "" || name == "auto" || simdEnvErr != nil {
		return
	}
	if err := SetSIMD(name); err != nil {
		simdEnvErr = fmt.Errorf("METALLIC_DSL_SIMD: %w", err)
	}
}

// SIMD returns the instruction set the dsl CPU twin's row dots run now:
// "avx512", "avx2" or "go" (the pure Go definition).
func SIMD() string { return activeDots.Load().name }

// SIMDs returns the instruction sets of the row dots that this CPU runs,
// best first; the last is always "go".
func SIMDs() []string {
	var names []string
	for _, s := range dotSets() {
		names = append(names, s.name)
	}
	return names
}

// SetSIMD makes the row dots run the named instruction set (one of
// SIMDs()) from now on, for every caller in the process; the results do
// not change, only the speed. It returns an error naming the sets this
// CPU has when it lacks the named one.
func SetSIMD(name string) error {
	for _, s := range dotSets() {
		if s.name == name {
			activeDots.Store(s)
			return nil
		}
	}
	known := map[string]bool{"avx512": true, "avx2": true, "go": true}
	if !known[name] {
		return fmt.Errorf("unknown row-dot instruction set %q (want avx512, avx2, go or auto)", name)
	}
	return fmt.Errorf("this CPU has no %s row dots (it has %s)", name, strings.Join(SIMDs(), ", "))
}

// SIMDEnvError returns the error of METALLIC_DSL_SIMD (and
// METALLIC_DSL_NOSIMD) as read at start-up, or nil; the dsl path refuses
// to open with it, so a misspelled or unavailable set is never silently
// replaced.
func SIMDEnvError() error { return simdEnvErr }

// goDots is the pure Go definition.
var goDots = &dotSet{name: "go", round: func([]float32) int { return 0 }}
