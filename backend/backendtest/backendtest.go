// Package backendtest is the conformance suite of backend.Backend: it runs
// every built-in op over a grid of shapes, weight dtypes and activation
// storage dtypes, under each numerics profile the backend lists
// (Backend.Numerics), and compares each result with a float64 oracle
// computed from the very inputs the backend saw (after storage rounding).
// Ops outside a profile (OpMatMulQ under plain) are not run for it; the
// plain oracle and bounds are those backend/numerics.go states. It also
// checks that the backend refuses, with an error naming the profile, every
// built-in op under a profile it does not list (and OpMatMulQ under plain):
// a backend never falls back silently.
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
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// Result is the outcome of one op over one shape and dtype combination
// under one profile.
type Result struct {
	Numerics string  `json:"numerics"` // the profile the op was loaded under
	Op       string  `json:"op"`
	Shape    string  `json:"shape"`
	Weight   string  `json:"weight,omitempty"` // weight dtype, for ops that read one
	Act      string  `json:"act"`              // activation storage dtype
	MaxAbs   float64 `json:"max_abs"`          // max |got − ref|
	MaxRel   float64 `json:"max_rel"`          // max |got − ref| / (|ref| + 1e-30)
	NMSE     float64 `json:"nmse"`             // Σ(got − ref)² / Σref²
	Ratio    float64 `json:"ratio"`            // max |got − ref| / tolerance; ≤ 1 passes
	Pass     bool    `json:"pass"`
	Err      string  `json:"error,omitempty"` // the backend failed to run the case
	hash     uint64  // FNV-1a of the output bytes
}

// Name is "numerics/op/shape/weight/act" (without the parts that are
// empty).
func (r Result) Name() string {
	parts := []string{r.Numerics, r.Op, r.Shape, r.Weight, r.Act}
	var b []byte
	for _, p := range parts {
		if p == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return string(b)
}

// caseName is the subtest name of a case within its profile's subtest.
func (r Result) caseName() string {
	r.Numerics = ""
	return r.Name()
}

// WeightTypes are the weight dtypes checked for matmul and embed.
var WeightTypes = []gguf.Type{
	gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0,
	gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K,
	gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL,
}

// Check runs every case of every profile b lists, then the refusal
// checks, and returns one Result per case in a fixed order. Inputs come
// from a fixed seed, so two runs see the same data.
func Check(b backend.Backend) []Result {
	var rs []Result
	for _, p := range b.Numerics() {
		for i, c := range cases(p) {
			rs = append(rs, c.check(b, uint64(i)))
		}
	}
	return append(rs, refusals(b)...)
}

// Run checks b as subtests of t: one subtest per profile b lists (named
// by the profile) holding one per case, failing those out of tolerance
// with their numbers, then a "refuses" subtest per refusal check.
func Run(t *testing.T, b backend.Backend) {
	t.Helper()
	for _, p := range b.Numerics() {
		t.Run(string(p), func(t *testing.T) {
			for i, c := range cases(p) {
				t.Run(c.result().caseName(), func(t *testing.T) {
					r := c.check(b, uint64(i))
					if r.Err != "" {
						t.Fatalf("%s: %s", r.Name(), r.Err)
					}
					if !r.Pass {
						t.Errorf("%s: max_abs %.3g max_rel %.3g nmse %.3g: error/tolerance %.3g > 1", r.Name(), r.MaxAbs, r.MaxRel, r.NMSE, r.Ratio)
					}
				})
			}
		})
	}
	for _, r := range refusals(b) {
		t.Run("refuses/"+r.Name(), func(t *testing.T) {
			if !r.Pass {
				t.Error(r.Err)
			}
		})
	}
}

// Fingerprint runs every case of every profile b lists and returns a hash
// of each output's bytes: equal fingerprints mean bit-identical results
// (for example with different numbers of threads).
func Fingerprint(b backend.Backend) []uint64 {
	var fp []uint64
	for _, p := range b.Numerics() {
		for i, c := range cases(p) {
			fp = append(fp, c.check(b, uint64(i)).hash)
		}
	}
	return fp
}

// unknownProfile is a profile no backend implements.
const unknownProfile backend.Numerics = "no-such-profile"

// refusals checks that b lists the plain profile (every backend implements
// it) and that Load fails, with an error naming the profile, for every
// built-in op under each profile b does not list (and an unknown one), for
// OpMatMulQ under plain, and for flash attention under plain (refuseFlash). One Result per check: Op the op, Shape
// "refused", Numerics the profile asked for; Err says what went wrong.
func refusals(b backend.Backend) []Result {
	var rs []Result
	listed := map[backend.Numerics]bool{}
	for _, p := range b.Numerics() {
		listed[p] = true
	}
	r := Result{Numerics: string(backend.Plain), Op: "numerics", Shape: "lists plain", Pass: listed[backend.Plain]}
	if !r.Pass {
		r.Err = fmt.Sprintf("%s lists profiles %v without %s, which every backend implements", b.Name(), b.Numerics(), backend.Plain)
	}
	rs = append(rs, r)
	refuse := func(p backend.Numerics, op string) {
		r := Result{Numerics: string(p), Op: op, Shape: "refused", Pass: true}
		k, err := b.Load(backend.KernelSpec{Name: op, Numerics: p})
		switch {
		case err == nil:
			r.Pass, r.Err = false, fmt.Sprintf("%s loaded %s (as %s) under profile %q, which it does not implement: a backend must refuse, never fall back",
				b.Name(), op, k.Name(), p)
		case !strings.Contains(err.Error(), string(p)):
			r.Pass, r.Err = false, fmt.Sprintf("%s refused %s under %q with an error that does not name the profile: %v", b.Name(), op, p, err)
		}
		rs = append(rs, r)
	}
	for _, p := range append(backend.Profiles(), unknownProfile) {
		if listed[p] {
			continue
		}
		for _, op := range backend.Ops() {
			refuse(p, op)
		}
	}
	if listed[backend.Plain] {
		refuse(backend.Plain, backend.OpMatMulQ)
		rs = append(rs, refuseFlash(b))
	}
	return rs
}

// refuseFlash checks that b refuses OpAttention's flash variant
// (KernelSpec.Flash.On) under plain, which has no flash kernel, with an
// error that says "flash": a backend that ignored the request would run
// another kernel than the one asked for.
func refuseFlash(b backend.Backend) Result {
	r := Result{Numerics: string(backend.Plain), Op: backend.OpAttention, Shape: "flash refused", Pass: true}
	k, err := b.Load(backend.KernelSpec{Name: backend.OpAttention, Numerics: backend.Plain, In: backend.F32, Out: backend.F32, KV: backend.F32,
		Flash: backend.FlashAttn{On: true, Batch: 1, Threads: 1}})
	switch {
	case err == nil:
		r.Pass, r.Err = false, fmt.Sprintf("%s loaded %s (as %s) with flash attention under %s, which has no flash kernel: a backend must refuse, never ignore it",
			b.Name(), backend.OpAttention, k.Name(), backend.Plain)
	case !strings.Contains(err.Error(), "flash"):
		r.Pass, r.Err = false, fmt.Sprintf("%s refused flash attention under %s with an error that does not say flash: %v", b.Name(), backend.Plain, err)
	}
	return r
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

// testCase is one op over one shape and dtype combination under one
// profile.
type testCase struct {
	op, shape string
	w         gguf.Type
	hasW      bool
	prof      backend.Numerics
	in, out   backend.DType
	tol       tol
	// run executes the op and returns the output and the oracle: ref and
	// mag = Σ|terms| per element.
	run func(h *harness) (got []float64, raw []byte, ref, mag []float64, err error)
}

// result is the case's Result before it runs.
func (c testCase) result() Result {
	r := Result{Numerics: string(c.prof), Op: c.op, Shape: c.shape, Act: c.in.String()}
	if c.hasW {
		r.Weight = c.w.String()
	}
	return r
}

func (c testCase) check(b backend.Backend, seed uint64) (r Result) {
	r = c.result()
	h := &harness{b: b, rng: rand.New(rand.NewPCG(seed, 0x6d6574616c6c6963)), prof: c.prof, in: c.in, out: c.out}
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
