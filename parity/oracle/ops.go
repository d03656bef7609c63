package oracle

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// cacheLimit is the largest weight (in elements) kept dequantized in
// memory: norm gains, biases and tiny matrices. Every larger matrix is
// streamed from the mapped file in row chunks each time it is used, so the
// oracles hold no float64 copy of a model (a 7B model's would be 56 GB)
// and their memory does not grow with the model.
const cacheLimit = 1 << 16

// chunkRows is the number of weight rows dequantized at a time when
// streaming (chunkRows·K float64s: 10 MB for K = 4864).
const chunkRows = 256

// Cache holds exactly dequantized weights, shared by the evaluators of one
// model (the global oracle and each path's local oracle). It is safe for
// concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string][]float64
}

// NewCache returns an empty weight cache.
func NewCache() *Cache { return &Cache{m: map[string][]float64{}} }

// rows dequantizes rows [r0, r1) of w (each of w.K elements) into dst.
func rows(w *model.Weight, r0, r1 int, dst []float64) error {
	rb, err := gguf.RowBytes(w.Type, w.K)
	if err != nil {
		return fmt.Errorf("oracle: %s: %w", w.Name, err)
	}
	lo, hi := r0*rb, r1*rb
	if hi > len(w.Data) {
		return fmt.Errorf("oracle: %s: %d rows of %d %s need %d bytes, have %d", w.Name, r1, w.K, w.Type, hi, len(w.Data))
	}
	switch w.Type {
	case gguf.TypeF16:
		decodeF16(w.Data[lo:hi], dst[:(r1-r0)*w.K])
		return nil
	case gguf.TypeQ8_0:
		decodeQ8_0(w.Data[lo:hi], dst[:(r1-r0)*w.K])
		return nil
	}
	if err := gguf.DequantizeF64(w.Type, w.Data[lo:hi], dst[:(r1-r0)*w.K]); err != nil {
		return fmt.Errorf("oracle: %s: %w", w.Name, err)
	}
	return nil
}

// f16Values maps every f16 bit pattern to its value (gguf.F16ToF32,
// exact in float64): streaming F16 weights is a table lookup per
// element, not a conversion.
var f16Values = sync.OnceValue(func() *[1 << 16]float64 {
	var t [1 << 16]float64
	for h := range t {
		t[h] = float64(gguf.F16ToF32(uint16(h)))
	}
	return &t
})

// decodeF16 widens the little-endian f16 values of src into dst
// (len(src) = 2·len(dst)), as gguf.DequantizeF64 does.
func decodeF16(src []byte, dst []float64) {
	t := f16Values()
	for i := range dst {
		dst[i] = t[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

// decodeQ8_0 dequantizes the Q8_0 blocks of src (an f16 scale d, then 32
// int8 q; x = q·d) into dst, as gguf.DequantizeF64 does: each product is
// exact in float64.
func decodeQ8_0(src []byte, dst []float64) {
	t := f16Values()
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[34*b:34*b+34], dst[32*b:32*b+32]
		d := t[binary.LittleEndian.Uint16(blk)]
		for j, q := range blk[2:34] {
			out[j] = float64(int8(q)) * d
		}
	}
}

// full returns all of w dequantized (N rows of K), from the cache when small.
func (c *Cache) full(w *model.Weight) ([]float64, error) {
	return c.cached(w, "", w.K*w.N <= cacheLimit, func() ([]float64, error) {
		v := make([]float64, w.K*w.N)
		if err := rows(w, 0, w.N, v); err != nil {
			return nil, err
		}
		return v, nil
	})
}

// cached returns what compute computes for w (kind tells apart the values
// kept for one weight), from the cache when there, keeping the result
// when keep.
func (c *Cache) cached(w *model.Weight, kind string, keep bool, compute func() ([]float64, error)) ([]float64, error) {
	if w.Data == nil {
		return nil, fmt.Errorf("oracle: weight %q is absent", w.Name)
	}
	key := fmt.Sprintf("%s%s@%p", kind, w.Name, w.Data)
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return nil, err
	}
	if keep {
		c.mu.Lock()
		c.m[key] = v
		c.mu.Unlock()
	}
	return v, nil
}

// vector returns a norm gain or bias (N = 1) of length n.
func (c *Cache) vector(w *model.Weight, n int) ([]float64, error) {
	v, err := c.full(w)
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fmt.Errorf("oracle: %s has %d elements, want %d", w.Name, len(v), n)
	}
	return v, nil
}

// matmul returns Y[T×N] = X[T×K] · Wᵀ, W stored as N rows of K.
func (c *Cache) matmul(w *model.Weight, x []float64, t int) ([]float64, error) {
	if w.Data == nil {
		return nil, fmt.Errorf("oracle: weight %q is absent", w.Name)
	}
	if len(x) != t*w.K {
		return nil, fmt.Errorf("oracle: %s: input has %d elements, want %d×%d", w.Name, len(x), t, w.K)
	}
	y := make([]float64, t*w.N)
	X := blas64.General{Rows: t, Cols: w.K, Stride: w.K, Data: x}
	if w.K*w.N <= cacheLimit {
		wf, err := c.full(w)
		if err != nil {
			return nil, err
		}
		W := blas64.General{Rows: w.N, Cols: w.K, Stride: w.K, Data: wf}
		Y := blas64.General{Rows: t, Cols: w.N, Stride: w.N, Data: y}
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, X, W, 0, Y)
		return y, nil
	}
	buf, part := chunkPool.get(chunkRows*w.K), partPool.get(t*chunkRows)
	defer chunkPool.put(buf)
	defer partPool.put(part)
	for r0 := 0; r0 < w.N; r0 += chunkRows {
		r1 := min(r0+chunkRows, w.N)
		n := r1 - r0
		if err := rows(w, r0, r1, buf); err != nil {
			return nil, err
		}
		W := blas64.General{Rows: n, Cols: w.K, Stride: w.K, Data: buf[:n*w.K]}
		P := blas64.General{Rows: t, Cols: n, Stride: n, Data: part[:t*n]}
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, X, W, 0, P)
		for i := 0; i < t; i++ {
			copy(y[i*w.N+r0:i*w.N+r1], part[i*n:(i+1)*n])
		}
	}
	return y, nil
}

// chunkPool and partPool recycle the streaming buffers of matmul (the
// dequantized weight rows, the partial products), so streaming a model's
// weights again and again makes no garbage. They are apart so that a
// small buffer of one kind never displaces a large one of the other.
var chunkPool, partPool f64Pool

// f64Pool keeps the largest float64 buffer given back to it: one buffer,
// not one per thread, so a run holds one chunk of the widest matrix.
type f64Pool struct {
	mu  sync.Mutex
	buf []float64
}

// get returns a buffer of n values (old contents), the kept one when it
// is large enough.
func (fp *f64Pool) get(n int) []float64 {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if cap(fp.buf) >= n {
		b := fp.buf[:n]
		fp.buf = nil
		return b
	}
	return make([]float64, n)
}

// put gives b back; the pool keeps it when it is its largest.
func (fp *f64Pool) put(b []float64) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if cap(b) > cap(fp.buf) {
		fp.buf = b
	}
}

// rmsNorm normalizes each length-n row of x: x / sqrt(mean(x²) + eps) · g.
func rmsNorm(x []float64, n int, g []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		ss := floats.Dot(row, row)
		s := 1 / math.Sqrt(ss/float64(n)+eps)
		for i, v := range row {
			y[r+i] = v * s * g[i]
		}
	}
	return y
}

// rope rotates every head (width hd) of every row of x (row t at position
// t) by the angles pos·base^(−2i/ropeDim); normal style rotates pairs
// (2i, 2i+1), NeoX pairs (i, i+ropeDim/2). Dimensions ≥ ropeDim are copied.
func rope(x []float64, cols, hd, ropeDim int, base float64, style model.RopeStyle) []float64 {
	y := append([]float64(nil), x...)
	for t := 0; t*cols < len(x); t++ {
		ropeRow(x[t*cols:(t+1)*cols], y[t*cols:(t+1)*cols], t, hd, ropeDim, base, style)
	}
	return y
}

// ropeRow writes into y (a copy of x) the row x rotated at position t, as
// rope does.
func ropeRow(x, y []float64, t, hd, ropeDim int, base float64, style model.RopeStyle) {
	half := ropeDim / 2
	for h := 0; h < len(x)/hd; h++ {
		o := h * hd
		for i := 0; i < half; i++ {
			theta := float64(t) * math.Pow(base, -2*float64(i)/float64(ropeDim))
			sin, cos := math.Sincos(theta)
			a, b := 2*i, 2*i+1
			if style == model.RopeNeoX {
				a, b = i, i+half
			}
			x0, x1 := x[o+a], x[o+b]
			y[o+a] = x0*cos - x1*sin
			y[o+b] = x0*sin + x1*cos
		}
	}
}

// attention computes softmax(q·kᵀ/√hd + causal mask)·v for every row
// (position) of q, with heads query heads sharing kvHeads key/value heads.
func attention(q, k, v []float64, t, heads, kvHeads, hd int) []float64 {
	qc, kc := heads*hd, kvHeads*hd
	group := heads / kvHeads
	out := make([]float64, t*qc)
	scale := 1 / math.Sqrt(float64(hd))
	p := make([]float64, t)
	for i := 0; i < t; i++ {
		for h := 0; h < heads; h++ {
			qh := q[i*qc+h*hd : i*qc+(h+1)*hd]
			kvh := h / group
			mx := math.Inf(-1)
			for j := 0; j <= i; j++ {
				p[j] = floats.Dot(qh, k[j*kc+kvh*hd:j*kc+(kvh+1)*hd]) * scale
				mx = math.Max(mx, p[j])
			}
			sum := 0.0
			for j := 0; j <= i; j++ {
				p[j] = math.Exp(p[j] - mx)
				sum += p[j]
			}
			o := out[i*qc+h*hd : i*qc+(h+1)*hd]
			for j := 0; j <= i; j++ {
				floats.AddScaled(o, p[j]/sum, v[j*kc+kvh*hd:j*kc+(kvh+1)*hd])
			}
		}
	}
	return out
}

// swiglu returns silu(gate)·up elementwise.
func swiglu(gate, up []float64) []float64 {
	y := make([]float64, len(gate))
	for i, g := range gate {
		y[i] = g / (1 + math.Exp(-g)) * up[i]
	}
	return y
}

// add returns a + b elementwise.
func add(a, b []float64) []float64 {
	y := make([]float64, len(a))
	floats.AddTo(y, a, b)
	return y
}

// addBias adds the length-n vector b to every row of x in place.
func addBias(x, b []float64) {
	n := len(b)
	for r := 0; r+n <= len(x); r += n {
		floats.Add(x[r:r+n], b)
	}
}
