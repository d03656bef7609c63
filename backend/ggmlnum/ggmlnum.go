// Package ggmlnum reproduces, bit for bit and in portable Go, the
// arithmetic of the ggml CPU kernels that llama.cpp runs on an x86-64 CPU
// with AVX-512 (the "skylakex" … "zen4" builds of libggml-cpu that
// llama.cpp's loader picks on such machines): the order in which SIMD
// lanes are summed, which multiply-adds are fused, ggml's polynomial exp,
// the quantization of activations to Q8_0 and Q8_K, the integer block dots
// of the quantized types (including llama.cpp's repacked Q4_0 and Q4_K
// kernels), the AVX512_BF16 dot, ggml's CPU flash attention (Flash), and
// glibc's sinf/cosf and expf.
//
// It exists so that the reference path can agree with llama.cpp to the
// last bit: a quantized matmul rounds its input to 8 bits, so a one-ulp
// difference upstream can move a value across a rounding boundary and grow
// into a visible logit difference. Matching ggml's arithmetic removes
// those flips.
//
// Every function documents the ggml routine it reproduces. The results do
// not depend on the machine running the Go code: fused multiply-adds are
// computed exactly (FMA32) and every other operation is rounded to float32
// explicitly. On amd64 with AVX2, FMA and F16C the hot loops run in
// assembly on the CPU's own integer and vfmadd instructions
// (kernels_amd64.s, q5_amd64.s), and with AVX-512 (and VNNI) the
// many-output forms run several outputs side by side (float512_amd64.s,
// q8vnni_amd64.s, expf512_amd64.s: DotF16Rows, TinyTile, QuantTile,
// QuantRows, ExpfN, SwiGLU); the choice is made at run time from the
// CPU's features. Every one gives the same bits as its portable
// definition (kernels.go and the one-output functions here), and the
// tests hold the two equal.
package ggmlnum

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// FMA32 returns x·y+z rounded once to float32, as a hardware fused
// multiply-add (vfmadd) computes it.
func FMA32(x, y, z float32) float32 {
	// x·y is exact in float64 (24+24 significant bits), so s is x·y+z
	// rounded once to float64; rounding it again to float32 is the single
	// rounding of x·y+z unless s lies exactly halfway between two
	// float32s, which fmaExact settles. Below float32's normal range the
	// halfway points are coarser, so those results go there too.
	p, zz := float64(x)*float64(y), float64(z)
	s := p + zz
	if b := math.Float64bits(s); b&(1<<29-1) == 1<<28 || b&(0x7ff<<52) < 0x381<<52 {
		return fmaExact(p, zz, s)
	}
	return float32(s)
}

// fmaExact rounds p+zz to float32 given s, p+zz rounded to float64: when s
// is a float32 halfway point, the exact error of s (TwoSum) moves s one
// float64 ulp toward the true value before the final rounding.
func fmaExact(p, zz, s float64) float32 {
	bb := s - p
	e := (p - (s - bb)) + (zz - bb)
	if e == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	var half bool
	if a := math.Abs(s); a >= 0x1p-126 {
		half = math.Float64bits(s)&(1<<29-1) == 1<<28
	} else { // float32 subnormals are multiples of 2^-149
		t := a * 0x1p150
		half = t == math.Trunc(t) && math.Mod(t, 2) == 1
	}
	if half {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

// fma16 is acc[l] = FMA32(x[l], y[l], acc[l]) for the 16 lanes of one
// vector step (FMA32 written out: the hot loop of every dot here).
func fma16(acc, x, y *[16]float32) {
	for l := range acc {
		p, zz := float64(x[l])*float64(y[l]), float64(acc[l])
		s := p + zz
		if b := math.Float64bits(s); b&(1<<29-1) == 1<<28 || b&(0x7ff<<52) < 0x381<<52 {
			acc[l] = fmaExact(p, zz, s)
			continue
		}
		acc[l] = float32(s)
	}
}

// Reduce16 is _mm512_reduce_add_ps as GCC expands it: halves added
// pairwise, (a[i]+a[i+8]), then (…[i]+…[i+4]), then (…[0]+…[2]) and
// (…[1]+…[3]), then the last two.
func Reduce16(a *[16]float32) float32 {
	var t8 [8]float32
	for i := range t8 {
		t8[i] = a[i] + a[i+8]
	}
	var t4 [4]float32
	for i := range t4 {
		t4[i] = t8[i] + t8[i+4]
	}
	return (t4[0] + t4[2]) + (t4[1] + t4[3])
}

// Hsum8 is ggml's hsum_float_8 (and tinyBLAS's hsum of a __m256):
// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
func Hsum8(a *[8]float32) float32 {
	r0, r1, r2, r3 := a[0]+a[4], a[1]+a[5], a[2]+a[6], a[3]+a[7]
	return (r0 + r2) + (r1 + r3)
}

// Expf is ggml_v_expf for one lane of its AVX-512 form (the exp of ggml's
// soft_max and SiLU): a degree-5 polynomial on the reduced argument,
// scaled by 2^n with vscalefps; |n| > 192 gives 0 or +Inf. Its error is
// up to 1.95 ulp, so it is not math.Exp rounded.
func Expf(x float32) float32 {
	const r = 0x1.8p23
	z := FMA32(x, 0x1.715476p+0, r)
	n := z - r
	b := FMA32(-n, 0x1.7f7d1cp-20, FMA32(-n, 0x1.62e4p-1, x))
	if float32(math.Abs(float64(n))) > 192 { // also false for NaN
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	u := b * b
	j := FMA32(
		FMA32(FMA32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, FMA32(0x1.555e66p-3, b, 0x1.fffdb6p-2)),
		u,
		FMA32(0x1.ffffecp-1, b, 1))
	return scalef(j, n)
}

// scalef is vscalefps for an integral n: j·2^n rounded once to float32.
func scalef(j, n float32) float32 {
	if math.IsNaN(float64(n)) || math.IsNaN(float64(j)) {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(float64(j), int(n)))
}

// ExpfN writes y[i] = Expf(x[i]) for i < len(y) (16 lanes at a time in
// assembly where the CPU has AVX-512; the same bits).
func ExpfN(y, x []float32) {
	x = x[:len(y)]
	i := expfN(y, x)
	for ; i < len(y); i++ {
		y[i] = Expf(x[i])
	}
}

// Silu is ggml_v_silu for one lane: x / (1 + Expf(0−x)).
func Silu(x float32) float32 {
	return x / (1 + Expf(0-x))
}

// SwiGLU writes y[i] = Silu(x[i])·g[i] as ggml_vec_swiglu_f32 does: whole
// groups of 16 with the vector SiLU, the tail (len mod 16 values) with the
// C library's expf (LibcExpf).
func SwiGLU(y, x, g []float32) {
	n := len(y)
	i := swigluN(y, x, g) // assembly for whole groups where it runs
	for ; i+16 <= n; i += 16 {
		for l := i; l < i+16; l++ {
			y[l] = Silu(x[l]) * g[l]
		}
	}
	for ; i < n; i++ {
		y[i] = x[i] / (1 + LibcExpf(-x[i])) * g[i]
	}
}

// DotF32 is ggml_vec_dot_f32 (AVX-512: 4 accumulators of 16 lanes over
// steps of 64 elements, reduced as (s0+s2)+(s1+s3) then Reduce16; the
// remaining elements added one by one: in groups of 8 with product and sum
// rounded apart, the last (n mod 64) mod 8 with a fused multiply-add).
func DotF32(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	np := n &^ 63
	sumf := steps64(x[:np], y[:np])
	// The scalar tail as GCC compiled it: unrolled by 8 with products and
	// sums rounded apart, the last (n−np) mod 8 elements fused.
	fused := n - (n-np)%8
	for i := np; i < fused; i++ {
		sumf += float32(x[i] * y[i])
	}
	for i := fused; i < n; i++ {
		sumf = FMA32(x[i], y[i], sumf)
	}
	return sumf
}

// steps64 is the vector part of ggml_vec_dot_f32/_f16 over len(x), a
// multiple of 64: 4 accumulators of 16 lanes, reduced as DotF32Lanes.Sum
// (+0 for no elements).
func steps64(x, y []float32) float32 {
	var a DotF32Lanes
	fmaAcc64((*[64]float32)(&a), x, y)
	return a.Sum()
}

// DotF16 is ggml_vec_dot_f16 on values already widened from f16: DotF32's
// lanes and reduction over steps of 64, but the remaining elements are
// added in float64 (sumf is a ggml_float there) and the total rounded to
// float32 at the end.
func DotF16(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	np := n &^ 63
	sum := float64(steps64(x[:np], y[:np]))
	for i := np; i < n; i++ {
		sum += float64(x[i] * y[i])
	}
	return float32(sum)
}

// DotF32Tiny is one element of llamafile's tinyBLAS f32 GEMM (AVX-512):
// 16 lane accumulators updated with fused multiply-adds over steps of 16,
// then Reduce16. len(x) must be a multiple of 16 (tinyBLAS declines
// otherwise).
func DotF32Tiny(x, y []float32) float32 {
	var acc [16]float32
	n := len(x)
	y = y[:n]
	fmaAcc16(&acc, x[:n&^15], y[:n&^15])
	return Reduce16(&acc)
}

// QuantizeQ8_0 quantizes x (len a multiple of 32) to Q8_0 blocks as ggml's
// x86 quantize_row_q8_0 quantizes the activations of a q8_0 matmul:
// amax = max|x|, d = f16(amax/127), q = nearest-even(x·(127/amax)) (the
// SIMD form; ggml's reference quantizer, used for weights, rounds x·(1/d)
// half away from zero instead). qs receives the quants, d the scales
// widened from f16.
func QuantizeQ8_0(x []float32, qs []int8, d []float32) {
	n := quantizeQ8_0Asm(x, qs, d)
	quantizeQ8_0Go(x[n:], qs[n:], d[n/32:])
}

// quantizeQ8_0Go is QuantizeQ8_0's portable definition.
func quantizeQ8_0Go(x []float32, qs []int8, d []float32) {
	for b := 0; b+32 <= len(x); b += 32 {
		blk := x[b : b+32 : b+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d[b/32] = f16Round(amax / 127)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		q := qs[b : b+32 : b+32]
		for i, v := range blk {
			q[i] = int8(math.RoundToEven(float64(v * id)))
		}
	}
}

// DotQ8_0 is ggml_vec_dot_q8_0_q8_0 for x86 (AVX2 and AVX-512, and
// tinyBLAS's q8_0 GEMM, which computes the same): for each block of 32,
// eight int32 lane sums s_l = Σ_{i<4} w[4l+i]·x[4l+i] are converted to
// float and accumulated as acc_l = fma(d_w·d_x, s_l, acc_l); the lanes are
// summed with Hsum8. row holds the weight blocks (f16 d, 32 int8), xq and
// xd the quantized activations of the same length.
func DotQ8_0(row []byte, xq []int8, xd []float32) float32 {
	var acc [8]float32
	q8Blocks(&acc, row, xq, xd)
	return Hsum8(&acc)
}

// DotQ8_0x4 is DotQ8_0 for the four weight rows at rows[r·stride:], r < 4
// (the same results, computed side by side).
func DotQ8_0x4(rows []byte, stride int, xq []int8, xd []float32) [4]float32 {
	var acc [4][8]float32
	q8Blocks4(&acc, rows, stride, xq, xd)
	var out [4]float32
	for r := range out {
		out[r] = Hsum8(&acc[r])
	}
	return out
}

var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = gguf.F16ToF32(uint16(i))
	}
	return &t
}()

// f16Widen converts an IEEE half to float32 exactly.
func f16Widen(h uint16) float32 { return f16Table[h] }

// f16Round rounds v to the nearest half (ties to even, as F16C's
// vcvtps2ph) and widens it back.
func f16Round(v float32) float32 { return f16Table[gguf.F32ToF16(v)] }

// DotF32Lanes are the 64 accumulators of a DotF32: element j of the dot
// is fused into slot j mod 64 (accumulator (j/16) mod 4, lane j mod 16).
// Sum equals DotF32 of the elements zero-padded to a multiple of 64 (zeros
// leave fused multiply-adds unchanged), which is how ggml dots a row of
// llama.cpp's KV cache, whose length is a multiple of 256.
type DotF32Lanes [64]float32

// Sum reduces the accumulators as DotF32 does.
func (a *DotF32Lanes) Sum() float32 {
	var s [16]float32
	for l := range s {
		s[l] = (a[l] + a[32+l]) + (a[16+l] + a[48+l])
	}
	return Reduce16(&s)
}

// TinyLanes are the 16 lanes of a DotF32Tiny (element j fused into lane
// j mod 16); Sum is DotF32Tiny of the elements zero-padded to a multiple
// of 16.
type TinyLanes [16]float32

// Sum is Reduce16 of the lanes.
func (a *TinyLanes) Sum() float32 { return Reduce16((*[16]float32)(a)) }

// FMAScale is acc[i] = fma(v[i], p, acc[i]) for i < len(acc): one position
// of a V sum, fused, across a head's dims.
func FMAScale(acc, v []float32, p float32) { fmaScale(acc, v, p) }

// DotQ4_0 is ggml_vec_dot_q4_0_q8_0 for x86 (the kernel of Q4_0 matrices
// llama.cpp does not repack): DotQ8_0's lanes and order with the weights
// q−8 from 4-bit quants (low nibbles elements 0–15, high 16–31).
func DotQ4_0(row []byte, xq []int8, xd []float32) float32 {
	var acc [8]float32
	for b := range xd {
		blk := row[18*b : 18*b+18 : 18*b+18]
		x := xq[32*b : 32*b+32 : 32*b+32]
		var w [32]int32
		for j := range 16 {
			w[j], w[j+16] = int32(blk[2+j]&15)-8, int32(blk[2+j]>>4)-8
		}
		d := f16Widen(uint16(blk[0])|uint16(blk[1])<<8) * xd[b]
		for l := range 8 {
			s := w[4*l]*int32(x[4*l]) + w[4*l+1]*int32(x[4*l+1]) + w[4*l+2]*int32(x[4*l+2]) + w[4*l+3]*int32(x[4*l+3])
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
	return Hsum8(&acc)
}

// DotQ4_0x8 is one output of ggml's repacked Q4_0 kernels (ggml_gemv and
// ggml_gemm q4_0_8x8_q8_0, used for Q4_0 matrices whose row count is a
// multiple of 8): per block an exact integer dot of the 4-bit weights
// (q−8) with the Q8_0 activations, then acc = fma(float(isum), d_w·d_x,
// acc) block after block, no lanes. row holds the weight blocks (f16 d,
// 16 bytes: low nibbles elements 0–15, high 16–31).
func DotQ4_0x8(row []byte, xq []int8, xd []float32) float32 {
	var acc float32
	var sums [64]int32
	for b0 := 0; b0 < len(xd); b0 += len(sums) {
		m := min(len(sums), len(xd)-b0)
		q4BlockSums(row[18*b0:18*(b0+m)], xq[32*b0:32*(b0+m)], sums[:m])
		for b, s := range sums[:m] {
			blk := row[18*(b0+b):]
			d := f16Widen(uint16(blk[0])|uint16(blk[1])<<8) * xd[b0+b]
			acc = FMA32(float32(s), d, acc)
		}
	}
	return acc
}

// QuantizeQ8_K quantizes x (len a multiple of 256) to Q8_K blocks as ggml
// quantizes the activations of a k-quant matmul (quantize_row_q8_K, the
// reference rule on x86): m = the element of largest magnitude, iscale =
// −127/m, q = min(127, nearest-even(iscale·x)), d = 1/iscale. qs receives
// the quants, d the block scales.
func QuantizeQ8_K(x []float32, qs []int8, d []float32) {
	for b := 0; b+256 <= len(x); b += 256 {
		blk := x[b : b+256 : b+256]
		var amax, m float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, m = a, v
			}
		}
		q := qs[b : b+256 : b+256]
		if amax == 0 {
			d[b/256] = 0
			clear(q)
			continue
		}
		iscale := -127 / m
		for i, v := range blk {
			q[i] = int8(min(127, math.RoundToEven(float64(iscale*v))))
		}
		d[b/256] = 1 / iscale
	}
}

// scaleMinK4 unpacks scale and min j (0–7) of a Q4_K superblock's twelve
// scale bytes (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m int32) {
	if j < 4 {
		return int32(q[j] & 63), int32(q[j+4] & 63)
	}
	return int32(q[j+4]&15 | q[j-4]>>6<<4), int32(q[j+4]>>4 | q[j]>>6<<4)
}

// DotQ4_Kx8 is one output of ggml's repacked Q4_K kernels (q4_K_8x8_q8_K,
// used for Q4_K matrices whose row count is a multiple of 8). Per
// superblock of 256 and its sub-block scales sc_j and mins m_j, the exact
// integer sums s = Σ_j sc_j·Σ q4·q8 and m = Σ_j m_j·Σ q8 are accumulated as
// acc = fma(float(s), d·d_x, acc) and accm = fma(float(m), dmin·d_x, accm);
// the result is acc − accm. The GEMM kernel (gemm true: prompt rows in
// groups of 4) accumulates each 64-element chunk's sums separately instead
// of the superblock's (ggml_gemv for the remaining rows and for decode).
// xsum holds the sums of each 16 values of xq (SubSums16).
func DotQ4_Kx8(row []byte, xq []int8, xd []float32, xsum []int32, gemm bool) float32 {
	var acc, accm float32
	var sub [128]int32 // Σ q·x per sub-block, 16 superblocks at a time
	// The integer sums and their scales, then the two fused chains
	// (fmaChain: the CPU's vfmadd where it has one, FMA32 else).
	var fs, fd, fm, fdm [64]float32
	for s0 := 0; s0 < len(xd); s0 += len(sub) / 8 {
		m := min(len(sub)/8, len(xd)-s0)
		q4KSubSums(row[144*s0:144*(s0+m)], xq[256*s0:256*(s0+m)], sub[:8*m])
		n := 0
		for sb := range m {
			b := s0 + sb
			blk := row[144*b : 144*b+144 : 144*b+144]
			scales := blk[4:16]
			dd := f16Widen(uint16(blk[0])|uint16(blk[1])<<8) * xd[b]
			dm := f16Widen(uint16(blk[2])|uint16(blk[3])<<8) * xd[b]
			var s, mn int32
			for c := range 4 {
				s1, m1 := scaleMinK4(2*c, scales)
				s2, m2 := scaleMinK4(2*c+1, scales)
				sc := s1*sub[8*sb+2*c] + s2*sub[8*sb+2*c+1]
				mc := m1*(xsum[16*b+4*c]+xsum[16*b+4*c+1]) + m2*(xsum[16*b+4*c+2]+xsum[16*b+4*c+3])
				if gemm {
					fs[n], fd[n], fm[n], fdm[n] = float32(sc), dd, float32(mc), dm
					n++
					continue
				}
				s += sc
				mn += mc
			}
			if !gemm {
				fs[n], fd[n], fm[n], fdm[n] = float32(s), dd, float32(mn), dm
				n++
			}
		}
		acc = fmaChain(acc, fs[:n], fd[:n])
		accm = fmaChain(accm, fm[:n], fdm[:n])
	}
	return acc - accm
}

// SubSums16 writes the sums of each 16 consecutive values of xq into out
// (len(xq)/16 values): the activation side of the k-quants' offsets (the
// bsums of ggml's Q8_K blocks).
func SubSums16(xq []int8, out []int32) {
	for j := range out {
		var s int32
		for _, v := range xq[16*j : 16*j+16] {
			s += int32(v)
		}
		out[j] = s
	}
}

// DotQ6_K is ggml_vec_dot_q6_K_q8_K for x86 (AVX2, used on AVX-512 CPUs
// too; Q6_K matrices are not repacked). Per superblock of 256: eight exact
// int32 lanes, lane l = Σ sc·q·q8 over the elements whose index mod 32 is
// in 4l…4l+3, with q the unsigned 6-bit quant (0–63), minus 32·Σ sc·q8
// over the elements 32l…32l+31 (the −32 offset of Q6_K, taken from the
// activations' 16-element sums); then acc_l = fma(d_x·d, lane_l, acc_l),
// and Hsum8 at the end. A block is ql[128], qh[64], scales[16] (int8, one
// per 16 elements), d (f16): element 128h+32k+i (k < 4, i < 32) has the
// low nibble of ql[64h+i+32(k&1)] (high nibble for k ≥ 2) and the two
// bits (qh[32h+i] >> 2k) & 3 above it. xsum16 holds the sums of each 16
// values of xq (SubSums16).
func DotQ6_K(row []byte, xq []int8, xd []float32, xsum16 []int32) float32 {
	var acc [8]float32
	var lanes [128]int32 // 16 superblocks at a time
	var v [128]float32
	var ds [16]float32
	for s0 := 0; s0 < len(xd); s0 += len(lanes) / 8 {
		m := min(len(lanes)/8, len(xd)-s0)
		q6Lanes(row[210*s0:210*(s0+m)], xq[256*s0:256*(s0+m)], lanes[:8*m])
		for sb := range m {
			b := s0 + sb
			blk := row[210*b : 210*b+210 : 210*b+210]
			sc := blk[192:208]
			bs := xsum16[16*b : 16*b+16 : 16*b+16]
			ds[sb] = xd[b] * f16Widen(uint16(blk[208])|uint16(blk[209])<<8)
			for l := range 8 {
				v[8*sb+l] = float32(lanes[8*sb+l] - 32*(bs[2*l]*int32(int8(sc[2*l]))+bs[2*l+1]*int32(int8(sc[2*l+1]))))
			}
		}
		// acc_l = fma(d, v_l, acc_l), superblock after superblock.
		fmaLanes8(&acc, v[:8*m], ds[:m])
	}
	return Hsum8(&acc)
}

// dpbf16 is one lane of vdpbf16ps (AVX512_BF16): acc + a1·b1 + a0·b0, the
// odd pair first, each addition rounded once (the products of bf16 values
// are exact), denormal inputs and results flushed to zero.
func dpbf16(acc, a0, b0, a1, b1 float32) float32 {
	acc = ftz(FMA32(daz(a1), daz(b1), daz(acc)))
	return ftz(FMA32(daz(a0), daz(b0), acc))
}

// daz and ftz flush a denormal float32 to zero (keeping its sign).
func daz(x float32) float32 {
	if math.Float32bits(x)&0x7f800000 == 0 {
		return math.Float32frombits(math.Float32bits(x) & 0x80000000)
	}
	return x
}

func ftz(x float32) float32 { return daz(x) }

// DotBF16 is ggml_vec_dot_bf16 for AVX512_BF16 (x and y already bf16
// values, widened): two accumulators of 16 lanes over steps of 64, lane l
// of a 32-element half taking elements 2l and 2l+1 (vdpbf16ps), each
// reduced with Reduce16 and added in float64, then the remaining elements
// added in float64; the total rounded to float32.
func DotBF16(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	var c1, c2 [16]float32
	i := 0
	for ; i+64 <= n; i += 64 {
		for l := range 16 {
			c1[l] = dpbf16(c1[l], x[i+2*l], y[i+2*l], x[i+2*l+1], y[i+2*l+1])
			c2[l] = dpbf16(c2[l], x[i+32+2*l], y[i+32+2*l], x[i+32+2*l+1], y[i+32+2*l+1])
		}
	}
	sum := float64(Reduce16(&c1))
	sum += float64(Reduce16(&c2))
	for ; i < n; i++ {
		sum += float64(x[i] * y[i])
	}
	return float32(sum)
}

// DotBF16Tiny is one element of tinyBLAS's bf16 GEMM on AVX512_BF16 (32
// elements a step into 16 vdpbf16ps lanes, then Reduce16). len(x) must be
// a multiple of 32.
func DotBF16Tiny(x, y []float32) float32 {
	var acc [16]float32
	for i := 0; i+32 <= len(x); i += 32 {
		for l := range 16 {
			acc[l] = dpbf16(acc[l], x[i+2*l], y[i+2*l], x[i+2*l+1], y[i+2*l+1])
		}
	}
	return Reduce16(&acc)
}
