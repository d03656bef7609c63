package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/gguf"
)

// harness runs composed kernels on the cpu backend with float64 oracles.
type harness struct {
	t    *testing.T
	be   backend.Backend
	rng  *rand.Rand
	half bool
}

func newHarness(t *testing.T, half bool, threads int) *harness {
	be := cpu.New(backend.Options{Threads: threads})
	t.Cleanup(func() { be.Close() })
	return &harness{t: t, be: be, rng: rand.New(rand.NewPCG(1, 2)), half: half}
}

func (h *harness) elem() Type { return ActType(h.half) }

func (h *harness) randn(n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = h.rng.NormFloat64() * scale
	}
	return v
}

// act allocates an activation buffer holding v (rounded to the storage
// dtype) and returns the rounded values.
func (h *harness) act(v []float64) (backend.Buffer, []float64) {
	size := 4
	if h.half {
		size = 2
	}
	buf, err := h.be.Alloc(len(v) * size)
	if err != nil {
		h.t.Fatal(err)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	WriteAct(backend.Buf(buf), h.elem(), 0, f)
	ReadAct(backend.Buf(buf), h.elem(), 0, f)
	out := make([]float64, len(v))
	for i, x := range f {
		out[i] = float64(x)
	}
	return buf, out
}

func (h *harness) zeros(n int, elem Type) backend.Buffer {
	size := 4
	if elem == Half {
		size = 2
	}
	buf, err := h.be.Alloc(n * size)
	if err != nil {
		h.t.Fatal(err)
	}
	return buf
}

// weight quantizes random rows×k values to t; it returns the buffer and
// the exact dequantized values.
func (h *harness) weight(t gguf.Type, rows, k int, scale float64) (backend.Buffer, []float64) {
	src := make([]float32, rows*k)
	for i := range src {
		src[i] = float32(h.rng.NormFloat64() * scale)
	}
	var data []byte
	if t.CanQuantize() {
		var err error
		if data, err = gguf.Quantize(t, src); err != nil {
			h.t.Fatalf("quantize %s: %v", t, err)
		}
	} else {
		data = h.rawBlocks(t, rows*k, scale)
	}
	exact := make([]float64, rows*k)
	if err := gguf.DequantizeF64(t, data, exact); err != nil {
		h.t.Fatal(err)
	}
	buf, err := h.be.Wrap(data)
	if err != nil {
		h.t.Fatal(err)
	}
	return buf, exact
}

// scaleOffsets are the byte offsets of the f16 scales inside a block of
// the types gguf cannot quantize (Q8_K's is an f32).
var scaleOffsets = map[gguf.Type][]int{
	gguf.TypeQ4_1: {0, 2}, gguf.TypeQ5_0: {0}, gguf.TypeQ5_1: {0, 2},
	gguf.TypeQ2_K: {80, 82}, gguf.TypeQ3_K: {108}, gguf.TypeQ5_K: {0, 2},
}

// rawBlocks returns random blocks of type t with small, finite scales.
func (h *harness) rawBlocks(t gguf.Type, n int, scale float64) []byte {
	nb := n / t.BlockSize()
	data := make([]byte, nb*t.BlockBytes())
	for i := range data {
		data[i] = byte(h.rng.UintN(256))
	}
	for b := 0; b < nb; b++ {
		blk := data[b*t.BlockBytes():]
		if t == gguf.TypeQ8_K {
			bits := math.Float32bits(float32(scale / 64 * (1 + h.rng.Float64())))
			blk[0], blk[1], blk[2], blk[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
			continue
		}
		offs, ok := scaleOffsets[t]
		if !ok {
			h.t.Fatalf("no random-block recipe for %s", t)
		}
		for _, o := range offs {
			v := gguf.F32ToF16(float32(scale / 16 * (1 + h.rng.Float64())))
			blk[o], blk[o+1] = byte(v), byte(v>>8)
		}
	}
	return data
}

func (h *harness) ids(v []int32) backend.Buffer {
	buf, err := h.be.Alloc(4 * len(v))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.be.Upload(buf, 0, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))); err != nil {
		h.t.Fatal(err)
	}
	return buf
}

// vars returns a vars buffer holding position pos (see VarPos).
func (h *harness) vars(pos int) backend.Buffer {
	v := make([]int32, VarsHeader)
	v[VarPos] = int32(pos)
	return h.ids(v)
}

func (h *harness) run(k *Kernel, rows int, b Binding) {
	h.t.Helper()
	kk, err := h.be.Load(k.Spec())
	if err != nil {
		h.t.Fatal(err)
	}
	b["$tokens"] = backend.Int(rows)
	args, err := k.Bind(b)
	if err != nil {
		h.t.Fatal(err)
	}
	enc := h.be.Begin()
	enc.Dispatch(kk, k.Grid(rows), args...)
	if err := enc.Commit(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.be.Sync(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) read(buf backend.Buffer, n int, elem Type) []float32 {
	out := make([]float32, n)
	ReadAct(backend.Buf(buf), elem, 0, out)
	return out
}

// check compares got with the float64 oracle within abs + |ref|·rel,
// where abs scales with the oracle's RMS.
func (h *harness) check(name string, got []float32, want []float64, outHalf bool) {
	h.t.Helper()
	var rms float64
	for _, w := range want {
		rms += w * w
	}
	rms = math.Sqrt(rms / float64(len(want)))
	abs, rel := 1e-5*rms+1e-6, 1e-4
	if h.half || outHalf {
		abs, rel = 2e-3*rms+1e-4, 2e-3
	}
	if len(got) != len(want) {
		h.t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= abs+rel*math.Abs(want[i])) {
			h.t.Fatalf("%s: [%d] = %g, oracle %g (|diff| %g > %g + %g·|ref|)", name, i, got[i], want[i], d, abs, rel)
		}
	}
}

func rmsnorm64(x, g []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * inv * g[i]
	}
	return out
}

func matvec64(w []float64, x []float64, n int) []float64 {
	k := len(x)
	out := make([]float64, n)
	for r := 0; r < n; r++ {
		var s float64
		for i := 0; i < k; i++ {
			s += w[r*k+i] * x[i]
		}
		out[r] = s
	}
	return out
}

func rope64(x []float64, pos, rd int, base float64, neox bool) {
	for i := 0; i < rd/2; i++ {
		th := float64(pos) * math.Pow(base, -2*float64(i)/float64(rd))
		a, b := 2*i, 2*i+1
		if neox {
			a, b = i, i+rd/2
		}
		x0, x1 := x[a], x[b]
		x[a] = x0*math.Cos(th) - x1*math.Sin(th)
		x[b] = x0*math.Sin(th) + x1*math.Cos(th)
	}
}

// allTypes are every weight dtype gguf dequantizes: the CPU path runs
// them all.
var allTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0,
	gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K,
	gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_K}

// RopeRowPlain follows the plain contract (backend/numerics.go): against
// the exact angle pos·base^(−2i/rd) in float64 its error stays within
// acc = 8u + 6u·|θ|max of |x_j| + |x_k| at large positions, and it is not
// llama.cpp's recurrence (RopeRow), whose angles drift from the exact ones.
func TestRopeRowPlainContract(t *testing.T) {
	const u = 1.0 / (1 << 24)
	h := newHarness(t, false, 1)
	for _, c := range []struct {
		rd   int
		base float32
		neox bool
	}{{64, 10000, true}, {128, 1e6, false}, {48, 500000, true}} {
		for _, pos := range []int{0, 1, 17, 1000, 4095, 32767} {
			x := make([]float32, c.rd+8)
			for i := range x {
				x[i] = float32(h.rng.NormFloat64())
			}
			got := append([]float32(nil), x...)
			RopeRowPlain(got, pos, c.rd, c.base, c.neox)
			rec := append([]float32(nil), x...)
			RopeRow(rec, pos, c.rd, c.base, c.neox)
			acc := 8*u + 6*u*float64(pos)
			differs := false
			for i := 0; i < c.rd/2; i++ {
				j, k := 2*i, 2*i+1
				if c.neox {
					j, k = i, i+c.rd/2
				}
				th := float64(pos) * math.Pow(float64(c.base), -2*float64(i)/float64(c.rd))
				cs, sn := math.Cos(th), math.Sin(th)
				wj := float64(x[j])*cs - float64(x[k])*sn
				wk := float64(x[j])*sn + float64(x[k])*cs
				mag := math.Abs(float64(x[j])) + math.Abs(float64(x[k]))
				for _, p := range [][2]float64{{float64(got[j]), wj}, {float64(got[k]), wk}} {
					if d := math.Abs(p[0] - p[1]); d > acc*mag+2*u*math.Abs(p[1]) {
						t.Errorf("rd %d base %g pos %d pair %d: got %g, exact %g (|diff| %.3g > bound %.3g)", c.rd, c.base, pos, i, p[0], p[1], d, acc*mag)
					}
				}
				differs = differs || got[j] != rec[j] || got[k] != rec[k]
			}
			for i := c.rd; i < len(x); i++ {
				if got[i] != x[i] {
					t.Errorf("rd %d pos %d: dimension %d past rope_dim changed", c.rd, pos, i)
				}
			}
			if pos >= 1000 && !differs {
				t.Errorf("rd %d base %g pos %d: plain angles give the recurrence's bits", c.rd, c.base, pos)
			}
		}
	}
}
