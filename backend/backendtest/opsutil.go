package backendtest

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// Helpers of the op tests beyond the conformance suite (ops.go), which run
// on any GPU backend (its kernels executed on the host on CI, the device
// on a GPU machine):
// inputs from a fixed seed, the values as stored, and a check against a
// float64 oracle with the suite's element bound
// |got − ref| ≤ atol + rel·|ref| + acc·mag.

const unitRoundoff = 1.0 / (1 << 24) // float32 unit roundoff

// opRun is one test's view of a backend: the buffers it allocates are
// freed when the test ends.
type opRun struct {
	t    *testing.T
	b    backend.Backend
	rng  *rand.Rand
	bufs []backend.Buffer
}

// Ops runs the op tests (OpsMatMul, OpsAttention, OpsRope, OpsRowOps) on
// a backend: Open returns it (skipping or failing the test when there is
// none), Stream is the PCG stream of the test's inputs (each backend
// keeps its own, so its inputs stay those it was checked with).
type Ops struct {
	Open   func(t *testing.T) backend.Backend
	Stream uint64
}

func newOpRun(t *testing.T, o Ops, seed uint64) *opRun {
	t.Helper()
	h := &opRun{t: t, b: o.Open(t), rng: rand.New(rand.NewPCG(seed, o.Stream))}
	t.Cleanup(func() {
		for _, b := range h.bufs {
			h.b.Free(b)
		}
	})
	return h
}

// alloc allocates n bytes, freed with the test.
func (h *opRun) alloc(n int) backend.Buffer {
	buf, err := h.b.Alloc(n)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bufs = append(h.bufs, buf)
	return buf
}

// uniform returns n values uniform in [-a, a).
func (h *opRun) uniform(n int, a float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = (2*h.rng.Float64() - 1) * a
	}
	return v
}

// act uploads v stored as dt (behind pad bytes of padding, to test
// unaligned arguments) and returns the argument and the stored values.
func (h *opRun) act(v []float64, dt backend.DType, pad int) (backend.Arg, []float64) {
	data := make([]byte, pad+len(v)*dt.Size())
	seen := make([]float64, len(v))
	for i, x := range v {
		if dt == backend.F16 {
			hb := gguf.F32ToF16(float32(x))
			binary.LittleEndian.PutUint16(data[pad+2*i:], hb)
			seen[i] = float64(gguf.F16ToF32(hb))
		} else {
			binary.LittleEndian.PutUint32(data[pad+4*i:], math.Float32bits(float32(x)))
			seen[i] = float64(float32(x))
		}
	}
	buf := h.alloc(len(data))
	if err := h.b.Upload(buf, 0, data); err != nil {
		h.t.Fatal(err)
	}
	return backend.BufAt(buf, pad), seen
}

// out allocates n elements of dt.
func (h *opRun) out(n int, dt backend.DType) backend.Arg {
	return backend.Buf(h.alloc(n * dt.Size()))
}

// ints uploads int32 values (ids, positions).
func (h *opRun) ints(v ...int) backend.Arg {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(int32(x)))
	}
	buf := h.alloc(len(data))
	if err := h.b.Upload(buf, 0, data); err != nil {
		h.t.Fatal(err)
	}
	return backend.Buf(buf)
}

// read downloads n elements of dt from a and widens them.
func (h *opRun) read(a backend.Arg, n int, dt backend.DType) ([]float64, []byte) {
	raw := make([]byte, n*dt.Size())
	if err := h.b.Download(raw, a.Buf, a.Off); err != nil {
		h.t.Fatal(err)
	}
	v := make([]float64, n)
	for i := range v {
		if dt == backend.F16 {
			v[i] = float64(gguf.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:])))
		} else {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	}
	return v, raw
}

// run loads spec, dispatches it once over g and waits for it.
func (h *opRun) run(spec backend.KernelSpec, g backend.Grid, args ...backend.Arg) error {
	k, err := h.b.Load(spec)
	if err != nil {
		return err
	}
	enc := h.b.Begin()
	enc.Dispatch(k, g, args...)
	if err := enc.Commit(); err != nil {
		return err
	}
	return h.b.Sync()
}

// weight makes n rows of k random weights of type t (values about a) and
// returns them wrapped, at byte offset off of their buffer, with their
// exact values.
func (h *opRun) weight(t gguf.Type, k, n int, a float64, off int) (backend.Arg, []float64) {
	rb, err := gguf.RowBytes(t, k)
	if err != nil {
		h.t.Fatal(err)
	}
	var data []byte
	if t.CanQuantize() {
		f := make([]float32, k*n)
		for i := range f {
			f[i] = float32((2*h.rng.Float64() - 1) * a)
		}
		if data, err = gguf.Quantize(t, f); err != nil {
			h.t.Fatal(err)
		}
	} else {
		data = make([]byte, rb*n)
		for i := range data {
			data[i] = byte(h.rng.UintN(256))
		}
		bb := t.BlockBytes()
		for o := 0; o < len(data); o += bb {
			h.fixScales(t, data[o:o+bb], a)
		}
	}
	vals := make([]float64, k*n)
	if err := gguf.DequantizeF64(t, data, vals); err != nil {
		h.t.Fatal(err)
	}
	buf, err := h.b.Wrap(append(make([]byte, off), data...))
	if err != nil {
		h.t.Fatal(err)
	}
	h.bufs = append(h.bufs, buf)
	return backend.BufAt(buf, off), vals
}

// fixScales gives a random block of the types gguf cannot quantize scales
// that make elements of magnitude about a.
func (h *opRun) fixScales(t gguf.Type, blk []byte, a float64) {
	if !scaleBlock(h.rng, t, blk, a) {
		h.t.Fatalf("no block layout for %v", t)
	}
}

// oracleBound is an element tolerance: atol + rel·|ref| + acc·mag.
type oracleBound struct{ atol, rel, acc float64 }

// storageBound returns the bound of a value stored in dt after float32 math
// with arithmetic error acc·mag (as backendtest's storageTol).
func storageBound(dt backend.DType, acc float64) oracleBound {
	if dt == backend.F16 {
		return oracleBound{atol: 1.0 / (1 << 24), rel: 1.0 / (1 << 11) * 1.01, acc: acc}
	}
	return oracleBound{atol: 1e-30, rel: 4 * unitRoundoff, acc: acc}
}

// checkOracle compares got with the oracle element by element and fails the test
// with the worst element.
func checkOracle(t *testing.T, name string, got, ref, mag []float64, b oracleBound) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: got %d values, want %d", name, len(got), len(ref))
	}
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(got[i] - ref[i])
		if math.IsNaN(got[i]) || math.IsInf(got[i], 0) {
			t.Fatalf("%s: element %d is %v, want %v", name, i, got[i], ref[i])
		}
		if r := d / (b.atol + b.rel*math.Abs(ref[i]) + b.acc*mag[i]); r > worst {
			worst, at = r, i
		}
	}
	if worst > 1 {
		t.Errorf("%s: element %d: got %v, want %v (mag %v): error/tolerance %.3g > 1", name, at, got[at], ref[at], mag[at], worst)
	}
}

// oracleMatMul is the float64 product of w [N,K] and x [T,K], with mag.
func oracleMatMul(w, x []float64, K, N, T int) (ref, mag []float64) {
	ref, mag = make([]float64, T*N), make([]float64, T*N)
	for t := range T {
		for n := range N {
			var s, m float64
			for k := range K {
				p := w[n*K+k] * x[t*K+k]
				s += p
				m += math.Abs(p)
			}
			ref[t*N+n], mag[t*N+n] = s, m
		}
	}
	return ref, mag
}
