// Package backendtest is the conformance suite of backend.Backend: it runs
// every built-in op over a grid of shapes, weight dtypes and activation
// storage dtypes, and compares each result with a float64 oracle computed
// from the very inputs the backend saw (after storage rounding).
//
// An element passes when |got − ref| ≤ atol + rel·|ref| + acc·mag, where rel
// is the output storage dtype's rounding (2⁻¹¹ for f16), acc bounds the
// float32 arithmetic of the op, and mag is Σ|terms| of the element (so
// cancellation does not make the bound vanish), as llm.c checks kernels.
//
// Each backend's test is one line:
//
//	func TestConformance(t *testing.T) { backendtest.Run(t, cpu.New(backend.Options{})) }
package backendtest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// Result is the outcome of one op over one shape and dtype combination.
type Result struct {
	Op     string  `json:"op"`
	Shape  string  `json:"shape"`
	Weight string  `json:"weight,omitempty"` // weight dtype, for ops that read one
	Act    string  `json:"act"`              // activation storage dtype
	MaxAbs float64 `json:"max_abs"`          // max |got − ref|
	MaxRel float64 `json:"max_rel"`          // max |got − ref| / (|ref| + 1e-30)
	NMSE   float64 `json:"nmse"`             // Σ(got − ref)² / Σref²
	Ratio  float64 `json:"ratio"`            // max |got − ref| / tolerance; ≤ 1 passes
	Pass   bool    `json:"pass"`
	Err    string  `json:"error,omitempty"` // the backend failed to run the case
	hash   uint64  // FNV-1a of the output bytes
}

// Name is "op/shape/weight/act".
func (r Result) Name() string {
	if r.Weight == "" {
		return fmt.Sprintf("%s/%s/%s", r.Op, r.Shape, r.Act)
	}
	return fmt.Sprintf("%s/%s/%s/%s", r.Op, r.Shape, r.Weight, r.Act)
}

// WeightTypes are the weight dtypes checked for matmul and embed.
var WeightTypes = []gguf.Type{
	gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0,
	gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K,
	gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
}

// Check runs every case on b and returns one Result per case, in a fixed
// order. Inputs come from a fixed seed, so two runs see the same data.
func Check(b backend.Backend) []Result {
	var rs []Result
	for i, c := range cases() {
		rs = append(rs, c.check(b, uint64(i)))
	}
	return rs
}

// Run checks b as subtests of t, one per case, failing those out of
// tolerance with their numbers.
func Run(t *testing.T, b backend.Backend) {
	t.Helper()
	for i, c := range cases() {
		t.Run(c.name(), func(t *testing.T) {
			r := c.check(b, uint64(i))
			if r.Err != "" {
				t.Fatalf("%s: %s", r.Name(), r.Err)
			}
			if !r.Pass {
				t.Errorf("%s: max_abs %.3g max_rel %.3g nmse %.3g: error/tolerance %.3g > 1", r.Name(), r.MaxAbs, r.MaxRel, r.NMSE, r.Ratio)
			}
		})
	}
}

// Fingerprint runs every case on b and returns a hash of each output's
// bytes: equal fingerprints mean bit-identical results (for example with
// different numbers of threads).
func Fingerprint(b backend.Backend) []uint64 {
	var fp []uint64
	for i, c := range cases() {
		fp = append(fp, c.check(b, uint64(i)).hash)
	}
	return fp
}

// tol is an element tolerance: atol + rel·|ref| + acc·mag.
type tol struct{ atol, rel, acc float64 }

// storageTol is the tolerance of a value stored in dt after float32 math.
func storageTol(dt backend.DType, acc float64) tol {
	if dt == backend.F16 {
		return tol{atol: 1.0 / (1 << 24), rel: 1.0 / (1 << 11) * 1.01, acc: acc}
	}
	return tol{atol: 1e-30, rel: 4.0 / (1 << 24), acc: acc}
}

// testCase is one op over one shape and dtype combination.
type testCase struct {
	op, shape string
	w         gguf.Type
	hasW      bool
	in, out   backend.DType
	tol       tol
	// run executes the op and returns the output and the oracle: ref and
	// mag = Σ|terms| per element.
	run func(h *harness) (got []float64, raw []byte, ref, mag []float64, err error)
}

func (c testCase) name() string {
	r := Result{Op: c.op, Shape: c.shape, Act: c.in.String()}
	if c.hasW {
		r.Weight = c.w.String()
	}
	return r.Name()
}

func (c testCase) check(b backend.Backend, seed uint64) (r Result) {
	r = Result{Op: c.op, Shape: c.shape, Act: c.in.String()}
	if c.hasW {
		r.Weight = c.w.String()
	}
	h := &harness{b: b, rng: rand.New(rand.NewPCG(seed, 0x6d6574616c6c6963)), in: c.in, out: c.out}
	defer h.free()
	got, raw, ref, mag, err := c.run(h)
	if err == nil {
		err = b.Sync()
	}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	if len(got) != len(ref) {
		r.Err = fmt.Sprintf("got %d values, oracle %d", len(got), len(ref))
		return r
	}
	hs := fnv.New64a()
	hs.Write(raw)
	r.hash = hs.Sum64()
	var se, sr float64
	finite := true
	for i := range got {
		d := math.Abs(got[i] - ref[i])
		if math.IsNaN(got[i]) || math.IsInf(got[i], 0) {
			finite = false
			continue
		}
		r.MaxAbs = max(r.MaxAbs, d)
		r.MaxRel = max(r.MaxRel, d/(math.Abs(ref[i])+1e-30))
		r.Ratio = max(r.Ratio, d/(c.tol.atol+c.tol.rel*math.Abs(ref[i])+c.tol.acc*mag[i]))
		se += d * d
		sr += ref[i] * ref[i]
	}
	if sr > 0 {
		r.NMSE = se / sr
	}
	r.Pass = finite && r.Ratio <= 1
	if !finite {
		r.Ratio = math.Inf(1)
	}
	return r
}
