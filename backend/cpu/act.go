package cpu

import (
	"sync"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// f16Table widens every half to float32 (256 KiB, built on first use).
var f16Table = sync.OnceValue(func() []float32 {
	t := make([]float32, 1<<16)
	for i := range t {
		t[i] = gguf.F16ToF32(uint16(i))
	}
	return t
})

// act reads and writes activation rows of one storage dtype.
type act struct {
	dt  backend.DType
	lut []float32
}

func newAct(dt backend.DType) act {
	a := act{dt: dt}
	if dt == backend.F16 {
		a.lut = f16Table()
	}
	return a
}

// tensor is an activation argument resolved once per call: float32
// elements, or f16 bits with the widening table.
type tensor struct {
	f   []float32
	h   []uint16
	lut []float32
}

// bind resolves argument a in storage s.
func (s act) bind(a backend.Arg) tensor {
	if s.dt == backend.F16 {
		return tensor{h: a.U16(), lut: s.lut}
	}
	return tensor{f: a.F32()}
}

// load copies len(dst) elements starting at element off into dst.
func (t tensor) load(off int, dst []float32) {
	if t.h != nil {
		src := t.h[off : off+len(dst)]
		for i, h := range src {
			dst[i] = t.lut[h]
		}
		return
	}
	copy(dst, t.f[off:off+len(dst)])
}

// view returns n elements at off as float32: a view for f32 storage, else
// a widened copy in scratch.
func (t tensor) view(off, n int, scratch []float32) []float32 {
	if t.h == nil {
		return t.f[off : off+n]
	}
	t.load(off, scratch[:n])
	return scratch[:n]
}

// store writes src at element off, rounding to the storage dtype.
func (t tensor) store(off int, src []float32) {
	if t.h != nil {
		dst := t.h[off : off+len(src)]
		for i, v := range src {
			dst[i] = gguf.F32ToF16(v)
		}
		return
	}
	copy(t.f[off:off+len(src)], src)
}

// dst returns where n results for the elements off… are computed: the
// tensor's own memory for float32 storage, else scratch[:n] (finish then
// stores them).
func (t tensor) dst(off, n int, scratch []float32) []float32 {
	if t.h == nil {
		return t.f[off : off+n : off+n]
	}
	return scratch[:n]
}

// finish stores results computed into d = t.dst(off, …): nothing to do
// for float32 storage, rounded to f16 else.
func (t tensor) finish(off int, d []float32) {
	if t.h != nil {
		t.store(off, d)
	}
}

// store1 writes one element.
func (t tensor) store1(off int, v float32) {
	if t.h != nil {
		t.h[off] = gguf.F32ToF16(v)
		return
	}
	t.f[off] = v
}

// weights reads rows of a weight of one dtype: N rows of K elements.
type weights struct {
	t        gguf.Type
	rowBytes int
	bs, bb   int // block size in elements and in bytes
	lut      []float32
}

func newWeights(t gguf.Type, k int) (weights, error) {
	rb, err := gguf.RowBytes(t, k)
	if err != nil {
		return weights{}, err
	}
	w := weights{t: t, rowBytes: rb, bs: t.BlockSize(), bb: t.BlockBytes()}
	if t == gguf.TypeF16 || t == gguf.TypeQ8_0 || t == gguf.TypeQ4_0 {
		w.lut = f16Table()
	}
	return w, nil
}

// row returns row n as float32: a view into the mapped data for F32, else
// a dequantized copy in scratch (len ≥ K).
func (w weights) row(a backend.Arg, n int, scratch []float32) []float32 {
	src := a.Bytes()[n*w.rowBytes : (n+1)*w.rowBytes]
	switch w.t {
	case gguf.TypeF32:
		return f32s(src)
	}
	dst := scratch[:len(src)/w.bb*w.bs]
	w.decodeChunk(src, dst)
	return dst
}

// scratch pools float32 buffers for kernel calls.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func putScratch(p *[]float32) { scratchPool.Put(p) }
