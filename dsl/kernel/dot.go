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
	fast := simdDots(t, k)
	if fast == nil {
		for j, r := range rows {
			out[j] = dotLanes(WeightRow(t, data, k, r, scratch), x)
		}
		return
	}
	var p [8]*byte
	for j := 0; j < len(rows); {
		n := fast.group(len(rows) - j)
		for i := range n {
			p[i] = &data[rows[j+i]*rb]
		}
		fast.run(&out[j], &p, n, &x[0], k, ahead(n*rb))
		j += n
	}
}

// ahead is the prefetch distance of passes over groups of gb bytes of
// rows: whole groups ahead (the next passes' rows where the rows are
// consecutive), at least 16 KB (short rows stream ~3% faster from a
// mapped file two groups ahead than one; long rows' one group is far
// enough).
func ahead(gb int) int {
	d := gb
	for d < 16384 {
		d += gb
	}
	return d
}

// rangeDots computes out[j] = row r0+j (k elements) of a weight of type t
// dotted with x, for j < len(out): rowDots on consecutive rows, each
// kernel prefetching the rows of its next pass.
func rangeDots(t gguf.Type, data []byte, k, r0 int, x, out, scratch []float32) {
	rb, _ := gguf.RowBytes(t, k)
	x = x[:k]
	fast := simdDots(t, k)
	if fast == nil {
		for j := range out {
			out[j] = dotLanes(WeightRow(t, data, k, r0+j, scratch), x)
		}
		return
	}
	var p [8]*byte
	for j := 0; j < len(out); {
		n := fast.group(len(out) - j)
		for i := range n {
			p[i] = &data[(r0+j+i)*rb]
		}
		fast.run(&out[j], &p, n, &x[0], k, ahead(n*rb))
		j += n
	}
}

// pairDots computes outA[j] and outB[j], rows r0+j of two weights of type
// t (a gate and an up projection), for j < len(outA): half of each pass's
// rows from each weight, so that both stream together and neither starts
// cold. o is room for a pass's results (the caller's, so that nothing is
// allocated per pass).
func pairDots(t gguf.Type, a, b []byte, k, r0 int, x, outA, outB []float32, o *[8]float32, scratch []float32) {
	fast := simdDots(t, k)
	n := len(outA)
	if fast == nil || fast.block > 0 || fast.x8 == nil {
		rangeDots(t, a, k, r0, x, outA, scratch)
		rangeDots(t, b, k, r0, x, outB[:n], scratch)
		return
	}
	rb, _ := gguf.RowBytes(t, k)
	x = x[:k]
	j := 0
	for ; j+4 <= n; j += 4 {
		ra, rbb := a[(r0+j)*rb:], b[(r0+j)*rb:]
		fast.x8(&o[0], &ra[0], &ra[rb], &ra[2*rb], &ra[3*rb], &rbb[0], &rbb[rb], &rbb[2*rb], &rbb[3*rb], &x[0], k/32, ahead(4*rb))
		copy(outA[j:j+4], o[:4])
		copy(outB[j:j+4], o[4:])
	}
	if j < n {
		rangeDots(t, a, k, r0+j, x, outA[j:n], scratch)
		rangeDots(t, b, k, r0+j, x, outB[j:n], scratch)
	}
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

// group is the number of rows of the next pass when n rows are left: the
// widest kernel that fits.
func (d *dotKernels) group(n int) int {
	switch {
	case d.block > 0:
		return 1
	case n >= 8 && d.x8 != nil:
		return 8
	case n >= 4 && d.x4 != nil:
		return 4
	case n >= 2 && d.x2 != nil:
		return 2
	}
	return 1
}

// run computes n rows (a group's count) at p into out, prefetching pf
// bytes ahead in each row.
func (d *dotKernels) run(out *float32, p *[8]*byte, n int, x *float32, k, pf int) {
	bs := 32
	if d.block > 0 {
		bs = d.block
	}
	switch n {
	case 8:
		d.x8(out, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], x, k/bs, pf)
	case 4:
		d.x4(out, p[0], p[1], p[2], p[3], x, k/bs, pf)
	case 2:
		d.x2(out, p[0], p[1], x, k/bs, pf)
	default:
		*out = d.x1(p[0], x, k/bs)
	}
}
