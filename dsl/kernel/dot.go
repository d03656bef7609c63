package kernel

import (
	"unsafe"

	"github.com/metallic-go/metallic/gguf"
)

// The dsl CPU twin's dot product. Every weight row is dotted with a
// float32 x in one fixed order, whatever the dtype, the number of rows
// computed per pass, the instruction set or the thread count:
//
//   - weight k is the exact float32 gguf.Dequantize gives (F16 widened,
//     Q8_0 q·d, Q4_0 (q−8)·d, Q5_0 (q−16)·d, each with one rounding);
//   - its product with x[k] is rounded to float32 (no fused multiply-add);
//   - the product is added into lane k mod 32 of 32 running sums, in
//     increasing k;
//   - the 32 lanes are reduced in a fixed tree: s16[i] = l[i]+l[i+16],
//     s8[i] = s16[i]+s16[i+8], s4[i] = s8[i]+s8[i+4], s2[i] = s4[i]+s4[i+2],
//     and the dot is s2[0]+s2[1].
//
// dotLanes is the definition; the AVX-512 kernels (dot_amd64.s) decode a
// block of 32 weights in registers and compute the same bits four rows
// per pass, reading the weights in place.

// dotLanes is the float32 dot product of w and x (len(w) elements) in the
// order above.
func dotLanes(w, x []float32) float32 {
	x = x[:len(w)]
	var l [32]float32
	k := 0
	for ; k+32 <= len(w); k += 32 {
		wb, xb := w[k:k+32], x[k:k+32]
		for i := range l {
			l[i] += float32(wb[i] * xb[i])
		}
	}
	for i := 0; k < len(w); i, k = i+1, k+1 {
		l[i] += float32(w[k] * x[k])
	}
	return reduceLanes(&l)
}

// reduceLanes is the fixed 32 → 1 tree of the dot product.
func reduceLanes(l *[32]float32) float32 {
	var s [16]float32
	for i := 0; i < 16; i++ {
		s[i] = l[i] + l[i+16]
	}
	for w := 8; w >= 1; w /= 2 {
		for i := 0; i < w; i++ {
			s[i] += s[i+w]
		}
	}
	return s[0]
}

// rowDots computes out[j] = row rows[j] (k elements) of a weight of type t
// dotted with x, for every j, reading the weight in place where the
// dtype has a SIMD kernel and dequantizing into scratch (k floats)
// otherwise.
func rowDots(t gguf.Type, data []byte, k int, rows []int, x []float32, out []float32, scratch []float32) {
	rb, _ := gguf.RowBytes(t, k)
	x = x[:k]
	if fast := simdDots(t, k); fast != nil {
		j := 0
		if fast.block > 0 {
			for ; j < len(rows); j++ {
				out[j] = fast.x1(&data[rows[j]*rb], &x[0], k/fast.block)
			}
			return
		}
		for ; j+8 <= len(rows); j += 8 {
			fast.x8(&out[j], &data[rows[j]*rb], &data[rows[j+1]*rb], &data[rows[j+2]*rb], &data[rows[j+3]*rb],
				&data[rows[j+4]*rb], &data[rows[j+5]*rb], &data[rows[j+6]*rb], &data[rows[j+7]*rb], &x[0], k/32, prefetchAhead(rows[j:j+8], rb))
		}
		for ; j+4 <= len(rows); j += 4 {
			fast.x4(&out[j], &data[rows[j]*rb], &data[rows[j+1]*rb], &data[rows[j+2]*rb], &data[rows[j+3]*rb], &x[0], k/32, prefetchAhead(rows[j:j+4], rb))
		}
		if j+2 <= len(rows) {
			fast.x2(&out[j], &data[rows[j]*rb], &data[rows[j+1]*rb], &x[0], k/32, prefetchAhead(rows[j:j+2], rb))
			j += 2
		}
		for ; j < len(rows); j++ {
			out[j] = fast.x1(&data[rows[j]*rb], &x[0], k/32)
		}
		return
	}
	for j, r := range rows {
		out[j] = dotLanes(WeightRow(t, data, k, r, scratch), x)
	}
}

// prefetchAhead is the distance in bytes at which a multi-row kernel
// prefetches each of its rows: the next pass's rows where the rows are
// consecutive and short (the same offset in the row one group further),
// else far enough ahead in the row itself.
func prefetchAhead(rows []int, rb int) int {
	const far = 8192
	n := len(rows)
	if rows[n-1] == rows[0]+n-1 && n*rb <= 2*far {
		return n * rb
	}
	return far
}

// DotRow is row r (k elements) of a weight of type t dotted with x in the
// dsl CPU twin's order (see dotLanes); scratch holds k floats.
func DotRow(t gguf.Type, data []byte, k, r int, x, scratch []float32) float32 {
	var out [1]float32
	rows := [1]int{r}
	rowDots(t, data, k, rows[:], x, out[:], scratch)
	return out[0]
}

// Dot is the float32 dot product of a and b (len(a) elements) in the dsl
// CPU twin's order.
func Dot(a, b []float32) float32 {
	if len(a) >= 32 && len(a)%32 == 0 {
		if fast := simdDots(gguf.TypeF32, len(a)); fast != nil {
			b = b[:len(a)]
			return fast.x1((*byte)(unsafe.Pointer(&a[0])), &b[0], len(a)/32)
		}
	}
	return dotLanes(a, b)
}

// dotKernels are one dtype's SIMD row dots over whole blocks of 32.
type dotKernels struct {
	x8 func(out *float32, w0, w1, w2, w3, w4, w5, w6, w7 *byte, x *float32, blocks, pf int)
	x4 func(out *float32, w0, w1, w2, w3 *byte, x *float32, blocks, pf int)
	x2 func(out *float32, w0, w1 *byte, x *float32, blocks, pf int)
	x1 func(w *byte, x *float32, blocks int) float32
	// block is the dtype's block size where it is not 32 (the k-quants'
	// 256); such dtypes have only x1.
	block int
}
