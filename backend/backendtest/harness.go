package backendtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// harness runs one case on a backend: it makes inputs, keeps the float64
// values the backend sees (after storage rounding), and reads outputs.
type harness struct {
	b    backend.Backend
	rng  *rand.Rand
	prof backend.Numerics
	in   backend.DType
	out  backend.DType
	bufs []backend.Buffer
}

func (h *harness) free() {
	for _, b := range h.bufs {
		h.b.Free(b)
	}
}

// uniform returns n values uniform in [-a, a).
func (h *harness) uniform(n int, a float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = (2*h.rng.Float64() - 1) * a
	}
	return v
}

// encode stores v in dtype dt and returns the bytes and the values as
// stored (widened exactly).
func encode(v []float64, dt backend.DType) ([]byte, []float64) {
	seen := make([]float64, len(v))
	b := make([]byte, len(v)*dt.Size())
	for i, x := range v {
		if dt == backend.F16 {
			hb := gguf.F32ToF16(float32(x))
			binary.LittleEndian.PutUint16(b[2*i:], hb)
			seen[i] = float64(gguf.F16ToF32(hb))
		} else {
			f := float32(x)
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
			seen[i] = float64(f)
		}
	}
	return b, seen
}

// act uploads v as an activation tensor of dtype dt.
func (h *harness) act(v []float64, dt backend.DType) (backend.Buffer, []float64, error) {
	data, seen := encode(v, dt)
	buf, err := h.b.Alloc(max(len(data), 4))
	if err != nil {
		return nil, nil, err
	}
	h.bufs = append(h.bufs, buf)
	return buf, seen, h.b.Upload(buf, 0, data)
}

// pos uploads a Pos argument: the int32 p behind a few bytes of padding,
// so kernels that ignore the argument's offset read the wrong value.
func (h *harness) pos(p int) (backend.Arg, error) {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], 0x7fffffff)
	binary.LittleEndian.PutUint32(b[8:], uint32(p))
	buf, err := h.b.Alloc(len(b))
	if err != nil {
		return backend.Arg{}, err
	}
	h.bufs = append(h.bufs, buf)
	return backend.BufAt(buf, 8), h.b.Upload(buf, 0, b)
}

// alloc returns an output buffer of n elements of dtype dt.
func (h *harness) alloc(n int, dt backend.DType) (backend.Buffer, error) {
	buf, err := h.b.Alloc(max(n*dt.Size(), 4))
	if err == nil {
		h.bufs = append(h.bufs, buf)
	}
	return buf, err
}

// read downloads n elements of dtype dt.
func (h *harness) read(buf backend.Buffer, n int, dt backend.DType) ([]float64, []byte, error) {
	b := make([]byte, n*dt.Size())
	if err := h.b.Download(b, buf, 0); err != nil {
		return nil, nil, err
	}
	v := make([]float64, n)
	for i := range v {
		if dt == backend.F16 {
			v[i] = float64(gguf.F16ToF32(binary.LittleEndian.Uint16(b[2*i:])))
		} else {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return v, b, nil
}

// weight makes a random weight of n rows of k elements of type t: floats
// in [-a, a) for F32/F16/BF16, random blocks with sane scales for the
// quantized types. It returns the wrapped buffer and the exact values.
func (h *harness) weight(t gguf.Type, k, n int, a float64) (backend.Buffer, []float64, error) {
	rb, err := gguf.RowBytes(t, k)
	if err != nil {
		return nil, nil, err
	}
	data := make([]byte, rb*n)
	switch t {
	case gguf.TypeF32:
		for i := 0; i < k*n; i++ {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32((2*h.rng.Float64()-1)*a)))
		}
	case gguf.TypeF16:
		for i := 0; i < k*n; i++ {
			binary.LittleEndian.PutUint16(data[2*i:], gguf.F32ToF16(float32((2*h.rng.Float64()-1)*a)))
		}
	case gguf.TypeBF16:
		for i := 0; i < k*n; i++ {
			binary.LittleEndian.PutUint16(data[2*i:], gguf.F32ToBF16(float32((2*h.rng.Float64()-1)*a)))
		}
	default:
		for i := range data {
			data[i] = byte(h.rng.UintN(256))
		}
		bb := t.BlockBytes()
		for off := 0; off < len(data); off += bb {
			h.fixScales(t, data[off:off+bb], a)
		}
	}
	vals := make([]float64, k*n)
	if err := gguf.DequantizeF64(t, data, vals); err != nil {
		return nil, nil, err
	}
	buf, err := h.b.Wrap(data)
	if err != nil {
		return nil, nil, err
	}
	h.bufs = append(h.bufs, buf)
	return buf, vals, nil
}

// fixScales overwrites the f16 scale fields of one block with values that
// make elements of magnitude about a.
func (h *harness) fixScales(t gguf.Type, blk []byte, a float64) {
	if !scaleBlock(h.rng, t, blk, a) {
		panic(fmt.Sprintf("backendtest: no block layout for %v", t))
	}
}

// scaleBlock overwrites the scale fields of one block of dtype t (f16, or
// Q8_K's float32) with random values that make elements of magnitude
// about a; false for a dtype whose layout it does not know.
func scaleBlock(rng *rand.Rand, t gguf.Type, blk []byte, a float64) bool {
	put := func(off int, v float64) {
		binary.LittleEndian.PutUint16(blk[off:], gguf.F32ToF16(float32(v*(0.5+rng.Float64()))))
	}
	switch t {
	case gguf.TypeQ8_0, gguf.TypeIQ4_NL: // IQ4_NL's grid spans ±127
		put(0, a/127)
	case gguf.TypeQ4_0, gguf.TypeQ5_0:
		put(0, a/16)
	case gguf.TypeQ4_1, gguf.TypeQ5_1:
		put(0, a/16)
		put(2, -a/2)
	case gguf.TypeQ2_K:
		put(80, a/48)
		put(82, a/64)
	case gguf.TypeQ3_K:
		put(108, a/128)
	case gguf.TypeQ4_K, gguf.TypeQ5_K:
		put(0, a/512)
		put(2, a/256)
	case gguf.TypeQ6_K:
		put(208, a/2048)
	case gguf.TypeQ8_K:
		binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(a/127*(0.5+rng.Float64()))))
	default:
		return false
	}
	return true
}
