package kernel

import (
	"math"
	"sync"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// Frame is the state of one CPU work item as it flows through the stages.
// Stage values pass between stages in In, Out and Aux: per-worker scratch
// that never reaches a device buffer.
type Frame struct {
	Args []backend.Arg
	Grid backend.Grid
	X, Y int       // work item coordinates
	Row  int       // token row of the item
	In   []float32 // main input vector, after the prologues
	Out  []float32 // output values of the item
	Aux  []float32 // second accumulator of paired mains
	O    int       // output index (multi-output mains)
	Col0 int       // column of Out[0] in output O
	OutW int       // row width of output O
	scr  [6][]float32
	// inValid says In already holds the fused input of token row inRow
	// for this call (mains whose input does not depend on x reuse it).
	inValid bool
	inRow   int
	inT     []float32  // fused inputs of a block of tokens (Gemv)
	acc     []float32  // accumulators of a block of tokens (Gemv)
	rowIx   []int      // weight rows of a work item (Gemv)
	pair    [8]float32 // one pass of pairDots (Gemv)
	// rnd caches In rounded for each dot-product class (see Gemv.Round).
	rnd   [numDotClasses][]float32
	rndOK [numDotClasses]bool
}

// Scratch returns per-frame scratch slot i (0–3) of n floats.
func (f *Frame) Scratch(i, n int) []float32 {
	if cap(f.scr[i]) < n {
		f.scr[i] = make([]float32, n)
	}
	return f.scr[i][:n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

var framePool = sync.Pool{New: func() any { return new(Frame) }}

func cpuFunc(k *Kernel, pros []Prologue, main Main, epis []Epilogue) backend.CPUFunc {
	span, _ := main.(cpuSpanner)
	for _, e := range epis {
		if _, ok := e.(RowEpilogue); ok {
			span = nil // the epilogue's statistics are the item's rows
		}
	}
	return func(c backend.CPUCall) {
		f := framePool.Get().(*Frame)
		defer framePool.Put(f)
		f.Args, f.Grid, f.inValid = c.Args, c.Grid, false
		pro := func() {
			for _, p := range pros {
				p.CPU(f)
			}
		}
		epi := func() {
			for _, e := range epis {
				e.CPU(f)
			}
		}
		for i := c.Lo; i < c.Hi; {
			f.X, f.Y, _ = c.Grid.Item(i)
			if span != nil {
				i += span.cpuSpan(f, c.Hi-i, pro, epi)
				continue
			}
			main.CPUItem(f, pro, epi)
			i++
		}
		f.Args = nil
	}
}

// cpuSpanner is a main that computes a run of consecutive work items as
// one (fewer per-item costs on the CPU), with the results of computing
// them one by one.
type cpuSpanner interface {
	cpuSpan(f *Frame, limit int, pro, epi func()) int
}

// ReadAct reads len(dst) values of an activation buffer of element type
// elem (Float or Half) starting at element off.
func ReadAct(a backend.Arg, elem Type, off int, dst []float32) {
	if elem == Half {
		lut := f16Table()
		src := a.U16()[off : off+len(dst)]
		for i, h := range src {
			dst[i] = lut[h]
		}
		return
	}
	copy(dst, a.F32()[off:off+len(dst)])
}

// WriteAct writes src to an activation buffer at element off, rounding to
// f16 when elem is Half.
func WriteAct(a backend.Arg, elem Type, off int, src []float32) {
	if elem == Half {
		dst := a.U16()[off : off+len(src)]
		for i, v := range src {
			dst[i] = gguf.F32ToF16(v)
		}
		return
	}
	copy(a.F32()[off:off+len(src)], src)
}

// WeightRow returns row r (k elements) of a weight of type t as float32s:
// a view for F32, else dequantized into scratch.
func WeightRow(t gguf.Type, data []byte, k, r int, scratch []float32) []float32 {
	rb, _ := gguf.RowBytes(t, k)
	b := data[r*rb : (r+1)*rb]
	switch t {
	case gguf.TypeF32:
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), k)
	case gguf.TypeF16:
		lut := f16Table()
		for i := range scratch[:k] {
			scratch[i] = lut[uint16(b[2*i])|uint16(b[2*i+1])<<8]
		}
		return scratch[:k]
	}
	if err := gguf.Dequantize(t, b, scratch[:k]); err != nil {
		panic(err) // sizes are checked when the kernel is composed
	}
	return scratch[:k]
}

var (
	f16Once sync.Once
	f16LUT  []float32
)

// f16Table is the 65536-entry f16 → f32 table.
func f16Table() []float32 {
	f16Once.Do(func() {
		f16LUT = make([]float32, 1<<16)
		for i := range f16LUT {
			f16LUT[i] = gguf.F16ToF32(uint16(i))
		}
	})
	return f16LUT
}

func silu(v float32) float32 { return v / (1 + float32(math.Exp(float64(-v)))) }

func gelu(v float32) float32 {
	return 0.5 * v * (1 + float32(math.Tanh(0.7978845608028654*float64(v+0.044715*v*v*v))))
}
