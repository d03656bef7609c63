package cpu

import (
	"encoding/binary"
	"math"
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

// load copies n elements starting at element off of arg a into dst.
func (s act) load(a backend.Arg, off int, dst []float32) {
	if s.dt == backend.F16 {
		src := a.U16()[off : off+len(dst)]
		for i, h := range src {
			dst[i] = s.lut[h]
		}
		return
	}
	copy(dst, a.F32()[off:off+len(dst)])
}

// view returns n elements at off as float32: a view for f32 storage, else
// a widened copy in scratch.
func (s act) view(a backend.Arg, off, n int, scratch []float32) []float32 {
	if s.dt == backend.F32 {
		return a.F32()[off : off+n]
	}
	s.load(a, off, scratch[:n])
	return scratch[:n]
}

// store writes src at element off of arg a, rounding to the storage dtype.
func (s act) store(a backend.Arg, off int, src []float32) {
	if s.dt == backend.F16 {
		dst := a.U16()[off : off+len(src)]
		for i, v := range src {
			dst[i] = gguf.F32ToF16(v)
		}
		return
	}
	copy(a.F32()[off:off+len(src)], src)
}

// store1 writes one element.
func (s act) store1(a backend.Arg, off int, v float32) {
	if s.dt == backend.F16 {
		a.U16()[off] = gguf.F32ToF16(v)
		return
	}
	a.F32()[off] = v
}

// weights reads rows of a weight of one dtype: N rows of K elements.
type weights struct {
	t        gguf.Type
	rowBytes int
	lut      []float32
}

func newWeights(t gguf.Type, k int) (weights, error) {
	rb, err := gguf.RowBytes(t, k)
	if err != nil {
		return weights{}, err
	}
	w := weights{t: t, rowBytes: rb}
	if t == gguf.TypeF16 {
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
	case gguf.TypeF16:
		dst := scratch[:len(src)/2]
		for i := range dst {
			dst[i] = w.lut[binary.LittleEndian.Uint16(src[2*i:])]
		}
		return dst
	case gguf.TypeBF16:
		dst := scratch[:len(src)/2]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
		return dst
	}
	k := len(src) / w.t.BlockBytes() * w.t.BlockSize()
	dst := scratch[:k]
	if err := gguf.Dequantize(w.t, src, dst); err != nil {
		panic(err)
	}
	return dst
}

// dot is Σ a[i]·b[i] in float32 with four accumulators, in a fixed order.
func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
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
