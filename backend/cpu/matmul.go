package cpu

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// chunk is the number of weight elements decoded at a time: a multiple of
// every block size (1, 32, 256), small enough to stay in L1.
const chunk = 256

// decodeChunk dequantizes the weight bytes src (a whole number of blocks)
// into dst. F32 weights are never decoded (rowDot reads them in place).
func (w weights) decodeChunk(src []byte, dst []float32) {
	switch w.t {
	case gguf.TypeF16:
		h := u16s(src)
		for i := range dst {
			dst[i] = w.lut[h[i]]
		}
	case gguf.TypeBF16:
		h := u16s(src)
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(h[i]) << 16)
		}
	case gguf.TypeQ8_0: // d f16, 32 × int8; x = q·d
		for b := 0; b < len(dst)/32; b++ {
			blk := src[34*b : 34*b+34 : 34*b+34]
			d := w.lut[uint16(blk[0])|uint16(blk[1])<<8]
			y := dst[32*b : 32*b+32 : 32*b+32]
			for j := range y {
				y[j] = float32(int8(blk[2+j])) * d
			}
		}
	case gguf.TypeQ4_0: // d f16, 16 bytes: low nibbles 0–15, high 16–31; x = (q−8)·d
		for b := 0; b < len(dst)/32; b++ {
			blk := src[18*b : 18*b+18 : 18*b+18]
			d := w.lut[uint16(blk[0])|uint16(blk[1])<<8]
			y := dst[32*b : 32*b+32 : 32*b+32]
			for j := range 16 {
				q := blk[2+j]
				y[j] = float32(int(q&15)-8) * d
				y[j+16] = float32(int(q>>4)-8) * d
			}
		}
	default:
		if err := gguf.Dequantize(w.t, src, dst); err != nil {
			panic(err)
		}
	}
}

// rowDot computes out[t] = Σ_k W[n,k]·xs[t·K+k] for t < T, where row holds
// the K elements of weight row n. It decodes one chunk of the row at a time
// and dots it with every x row, so each weight byte is decoded once per
// call. Each out[t] uses four float32 accumulators (element i goes to
// accumulator i mod 4 of its chunk), the same arithmetic for any T.
func (w weights) rowDot(row []byte, xs []float32, K, T int, acc, blk, out []float32) {
	clear(acc[:4*T])
	bpc := chunk / w.bs * w.bb // bytes per full chunk
	for k0 := 0; k0 < K; k0 += chunk {
		n := min(chunk, K-k0)
		var wc []float32
		if w.t == gguf.TypeF32 {
			wc = f32s(row[4*k0 : 4*(k0+n)])
		} else {
			b0 := k0 / chunk * bpc
			wc = blk[:n]
			w.decodeChunk(row[b0:b0+n/w.bs*w.bb], wc)
		}
		t := 0
		// Two x rows at a time: w is loaded once for both, and eight
		// independent accumulators keep the FPU busy. Each row's
		// arithmetic is exactly the single-row loop's below.
		for ; t+2 <= T; t += 2 {
			xa, xb := xs[t*K+k0:t*K+k0+n], xs[(t+1)*K+k0:(t+1)*K+k0+n]
			a := acc[4*t : 4*t+8 : 4*t+8]
			a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
			b0, b1, b2, b3 := a[4], a[5], a[6], a[7]
			i := 0
			for ; i+4 <= n; i += 4 {
				w4, x4, y4 := wc[i:i+4:i+4], xa[i:i+4:i+4], xb[i:i+4:i+4]
				a0 += w4[0] * x4[0]
				b0 += w4[0] * y4[0]
				a1 += w4[1] * x4[1]
				b1 += w4[1] * y4[1]
				a2 += w4[2] * x4[2]
				b2 += w4[2] * y4[2]
				a3 += w4[3] * x4[3]
				b3 += w4[3] * y4[3]
			}
			for ; i < n; i++ {
				a0 += wc[i] * xa[i]
				b0 += wc[i] * xb[i]
			}
			a[0], a[1], a[2], a[3] = a0, a1, a2, a3
			a[4], a[5], a[6], a[7] = b0, b1, b2, b3
		}
		for ; t < T; t++ {
			x := xs[t*K+k0 : t*K+k0+n]
			a := acc[4*t : 4*t+4 : 4*t+4]
			s0, s1, s2, s3 := a[0], a[1], a[2], a[3]
			i := 0
			for ; i+4 <= n; i += 4 {
				w4, x4 := wc[i:i+4:i+4], x[i:i+4:i+4]
				s0 += w4[0] * x4[0]
				s1 += w4[1] * x4[1]
				s2 += w4[2] * x4[2]
				s3 += w4[3] * x4[3]
			}
			for ; i < n; i++ {
				s0 += wc[i] * x[i]
			}
			a[0], a[1], a[2], a[3] = s0, s1, s2, s3
		}
	}
	for t := range T {
		a := acc[4*t : 4*t+4]
		out[t] = (a[0] + a[1]) + (a[2] + a[3])
	}
}

// matmul: out [T,N], x [T,K], W [N,K], K, N, T. Item = output column n.
// With quant (OpMatMulQ) x is first rounded as llama.cpp rounds it for the
// weight type; every call rounds whole rows, the same way for any split.
// This is OpMatMulQ for the weight types whose ggml kernels are not
// reproduced (ggmlMatMul takes the others) and OpMatMul.
func matmul(c backend.CPUCall, wt gguf.Type, in, out act, quant bool) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	if !quant && (wt == gguf.TypeF32 || wt == gguf.TypeF16) && K%64 == 0 {
		matmulPlainFloat(c, wt, in, out)
		return
	}
	w, err := newWeights(wt, K)
	if err != nil {
		panic(err)
	}
	var xs []float32
	if quant && wt != gguf.TypeF32 {
		xsc := getScratch(T * K)
		defer putScratch(xsc)
		in.bind(c.Args[1]).load(0, *xsc)
		xs = *xsc
		for t := range T {
			ggmlnum.RoundForDot(wt, xs[t*K:(t+1)*K])
		}
	} else if in.dt == backend.F32 {
		xs = in.bind(c.Args[1]).view(0, T*K, nil)
	} else {
		xsc := getScratch(T * K)
		defer putScratch(xsc)
		xs = in.bind(c.Args[1]).view(0, T*K, *xsc)
	}
	o := out.bind(c.Args[0])
	sc := getScratch(chunk + 5*T)
	defer putScratch(sc)
	blk, acc, res := (*sc)[:chunk], (*sc)[chunk:chunk+4*T], (*sc)[chunk+4*T:]
	wb := c.Args[2].Bytes()
	for n := c.Lo; n < c.Hi; n++ {
		w.rowDot(wb[n*w.rowBytes:(n+1)*w.rowBytes], xs, K, T, acc, blk, res)
		for t := range T {
			o.store1(t*N+n, res[t])
		}
	}
}

// matmulPlainFloat is OpMatMul (the plain profile's) for F32 and F16
// weights with K a multiple of 64: x as stored, never rounded; float32
// fused multiply-adds in the fixed lane orders of ggml's kernels (64 lanes
// for one token, DotF32Rows/DotF16Rows, whose float64 tail is empty when
// K is a multiple of 64; tiles of 16 lanes for a prompt, TinyTile), the
// weights read in place. The order is the same for every split, so the
// result does not depend on the thread count.
func matmulPlainFloat(c backend.CPUCall, wt gguf.Type, in, out act) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	rb := K * 4
	f16 := wt == gguf.TypeF16
	if f16 {
		rb = K * 2
	}
	rows := c.Hi - c.Lo
	sc := getScratch(T*K + max(rows, 16))
	defer putScratch(sc)
	xs, res := (*sc)[:T*K], (*sc)[T*K:]
	in.bind(c.Args[1]).load(0, xs)
	wb := c.Args[2].Bytes()
	o := out.bind(c.Args[0])
	if T >= 2 && N >= 4 {
		tile := (*[16]float32)(res[:16])
		for n0 := c.Lo; n0 < c.Hi; n0 += 4 {
			b := min(n0, N-4)
			for t0 := 0; t0 < T; t0 += 4 {
				tokens := min(4, T-t0)
				ggmlnum.TinyTile(f16, tile, wb[b*rb:], rb, xs[t0*K:], K, tokens)
				for t := range tokens {
					for r := range 4 {
						if n := b + r; n >= n0 && n < c.Hi {
							o.store1((t0+t)*N+n, tile[4*t+r])
						}
					}
				}
			}
		}
		return
	}
	for t := range T {
		x := xs[t*K : (t+1)*K]
		d := o.dst(t*N+c.Lo, rows, res)
		if f16 {
			ggmlnum.DotF16Rows(d, wb[c.Lo*rb:], rb, x)
		} else {
			ggmlnum.DotF32Rows(d, wb[c.Lo*rb:], rb, x)
		}
		o.finish(t*N+c.Lo, d)
	}
}

// matmulFloat is OpMatMulQ for F32, F16 and BF16 weights computed as
// ggml's CPU backend computes it (x rounded to f16 / bf16 for F16 / BF16
// weights): a prompt (T ≥ 2) with K a multiple of 16 (BF16: 32) and N of
// 4 goes through tinyBLAS (ggmlnum.DotF32Tiny, DotBF16Tiny), anything else
// through ggml_vec_dot_f32 / _f16 / _bf16 (ggmlnum.DotF32, DotF16,
// DotBF16). BF16 follows the AVX512_BF16 kernels (vdpbf16ps). F32 and F16
// weights are read in place: many rows per kernel call (DotF32Rows,
// DotF16Rows) and, for a prompt, tiles of 4 rows × 4 tokens (TinyTile),
// the same values as one output at a time.
func matmulFloat(c backend.CPUCall, p *prepared, wt gguf.Type, out act) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	rb := K * 4
	if wt == gguf.TypeF16 {
		rb = K * 2
	}
	rows := c.Hi - c.Lo
	sc := getScratch(max(rows, 16))
	defer putScratch(sc)
	xs, res := p.xs, *sc
	f16 := wt == gguf.TypeF16
	wb := c.Args[2].Bytes()
	o := out.bind(c.Args[0])
	if T >= 2 && K%16 == 0 && N%4 == 0 { // llamafile_sgemm's gates
		tile := (*[16]float32)(res[:16])
		for n0 := c.Lo; n0 < c.Hi; n0 += 4 {
			// A tile always has 4 rows: the last one of a range shorter
			// than 4 is moved back (recomputing rows of the range, which
			// give the same values) and only the range's rows are stored.
			b := min(n0, N-4)
			for t0 := 0; t0 < T; t0 += 4 {
				tokens := min(4, T-t0)
				ggmlnum.TinyTile(f16, tile, wb[b*rb:], rb, xs[t0*K:], K, tokens)
				for t := range tokens {
					for r := range 4 {
						if n := b + r; n >= n0 && n < c.Hi {
							o.store1((t0+t)*N+n, tile[4*t+r])
						}
					}
				}
			}
		}
		return
	}
	for t := range T {
		x := xs[t*K : (t+1)*K]
		d := o.dst(t*N+c.Lo, rows, res)
		if f16 {
			ggmlnum.DotF16Rows(d, wb[c.Lo*rb:], rb, x)
		} else {
			ggmlnum.DotF32Rows(d, wb[c.Lo*rb:], rb, x)
		}
		o.finish(t*N+c.Lo, d)
	}
}

// bf16Chunk is how many weight rows matmulBF16 gives each DotBF16Rows
// call (a prompt outside tinyBLAS's gates runs all its tokens over one
// chunk before the next, so the chunk stays in cache).
const bf16Chunk = 16

// matmulBF16 is matmulFloat for BF16 weights: rows read in place against
// the packed bf16 activations, the same values as one output at a time.
// Decode and prompts outside tinyBLAS's gates run ggmlnum.DotBF16Rows
// (ggml_vec_dot_bf16) many rows per call; a prompt runs tinyBLAS's GEMM in
// tiles of 4 rows × 4 tokens (BF16TinyTile), the rows and tokens left
// over through DotBF16TinyRows.
func matmulBF16(c backend.CPUCall, p *prepared, out act) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	rb := 2 * K
	wb := c.Args[2].Bytes()
	sc := getScratch(bf16Chunk)
	defer putScratch(sc)
	o := out.bind(c.Args[0])
	rowsOf := func(dot func([]float32, []byte, int, []uint16), n0, rows, t int) {
		d := o.dst(t*N+n0, rows, *sc)
		dot(d, wb[n0*rb:], rb, p.xb[t*K:(t+1)*K])
		o.finish(t*N+n0, d)
	}
	if !(T >= 2 && K%32 == 0 && N%4 == 0) { // llamafile_sgemm's gates
		for n0 := c.Lo; n0 < c.Hi; n0 += bf16Chunk {
			for t := range T {
				rowsOf(ggmlnum.DotBF16Rows, n0, min(bf16Chunk, c.Hi-n0), t)
			}
		}
		return
	}
	var tile [16]float32
	for n0 := c.Lo; n0 < c.Hi; n0 += 4 {
		rows := min(4, c.Hi-n0)
		t0 := 0
		for ; rows == 4 && t0+4 <= T; t0 += 4 {
			ggmlnum.BF16TinyTile(&tile, wb[n0*rb:], rb, p.xb[t0*K:], K)
			for t := range 4 {
				for r := range 4 {
					o.store1((t0+t)*N+n0+r, tile[4*t+r])
				}
			}
		}
		for t := t0; t < T; t++ {
			rowsOf(ggmlnum.DotBF16TinyRows, n0, rows, t)
		}
	}
}

// intDot is one output of an integer-activation matmul: row is a weight
// row, xq and xd the quantized activations and their block scales, xsum
// the sums of each 16 of xq (k-quants only, else nil); gemm
// tells a prompt row that llama.cpp's repacked kernels handle in a group
// of 4 (GEMM) from one handled alone (GEMV).
type intDot func(row []byte, xq []int8, xd []float32, xsum []int32, gemm bool) float32

// vecDot adapts a kernel whose arithmetic does not depend on the grouping.
func vecDot(f func(row []byte, xq []int8, xd []float32) float32) intDot {
	return func(row []byte, xq []int8, xd []float32, _ []int32, _ bool) float32 { return f(row, xq, xd) }
}

// matmulInt is OpMatMulQ for the quantized weights whose ggml arithmetic
// backend/ggmlnum reproduces: prepQ8 quantized each x row once per
// dispatch as llama.cpp quantizes activations (Q8_0 blocks of 32 or Q8_K
// blocks of 256), then every output is dot's integer block dots, scaled
// and summed in ggml's order, so results match llama.cpp bit for bit. A
// prompt's rows go to the repacked kernels' GEMM in groups of 4, the rest
// (and decode) to their GEMV. dot4, when not nil, computes dot for four
// consecutive weight rows at once (the same values, faster).
func matmulInt(c backend.CPUCall, p *prepared, wt gguf.Type, out act, block int, dot intDot,
	dot4 func(rows []byte, stride int, xq []int8, xd []float32) [4]float32) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	nb := K / block
	xq, xd, xsum := p.xq, p.xd, p.xsum
	rb, err := gguf.RowBytes(wt, K)
	if err != nil {
		panic(err)
	}
	o := out.bind(c.Args[0])
	wb := c.Args[2].Bytes()
	n := c.Lo
	if dot4 != nil {
		for ; n+4 <= c.Hi; n += 4 {
			rows := wb[n*rb : (n+4)*rb]
			for t := range T {
				r := dot4(rows, rb, xq[t*K:(t+1)*K], xd[t*nb:(t+1)*nb])
				for i, v := range r {
					o.store1(t*N+n+i, v)
				}
			}
		}
	}
	for ; n < c.Hi; n++ {
		row := wb[n*rb : (n+1)*rb]
		for t := range T {
			var xs []int32
			if block == 256 {
				xs = xsum[t*K/16 : (t+1)*K/16]
			}
			o.store1(t*N+n, dot(row, xq[t*K:(t+1)*K], xd[t*nb:(t+1)*nb], xs, t < T-T%4))
		}
	}
}

// matmulQ8Tiles is OpMatMulQ for Q8_0 and Q5_0 weights (ggmlnum.TileTypes)
// on the activations prepQ8 made: a prompt in tiles of 4 rows × 4 tokens
// (ggmlnum.QuantTile), one token in runs of rows (QuantRows). Every output
// is the one-output dot's value (DotQ8_0, DotQ5_0) however it is grouped.
func matmulQ8Tiles(c backend.CPUCall, p *prepared, wt gguf.Type, out act) {
	K, N, T := c.Args[3].I, c.Args[4].I, c.Args[5].I
	nb := K / 32
	rb, err := gguf.RowBytes(wt, K)
	if err != nil {
		panic(err)
	}
	o := out.bind(c.Args[0])
	wb := c.Args[2].Bytes()
	if T >= 2 && N >= 4 {
		var tile [16]float32
		for n0 := c.Lo; n0 < c.Hi; n0 += 4 {
			b := min(n0, N-4) // a short last tile moves back (see matmulFloat)
			for t0 := 0; t0 < T; t0 += 4 {
				ggmlnum.QuantTile(wt, &tile, wb[b*rb:], rb, p.xq[t0*K:], p.xu[t0*K:], p.xd[t0*nb:], K)
				for t := range min(4, T-t0) {
					for r := range 4 {
						if n := b + r; n >= n0 && n < c.Hi {
							o.store1((t0+t)*N+n, tile[4*t+r])
						}
					}
				}
			}
		}
		return
	}
	sc := getScratch(c.Hi - c.Lo)
	defer putScratch(sc)
	res := *sc
	for t := range T {
		d := o.dst(t*N+c.Lo, len(res), res)
		ggmlnum.QuantRows(wt, d, wb[c.Lo*rb:], rb, p.xq[t*K:(t+1)*K], p.xu[t*K:(t+1)*K], p.xd[t*nb:(t+1)*nb])
		o.finish(t*N+c.Lo, d)
	}
}

// prepQ8 quantizes the dispatch's activations once, as llama.cpp does for
// a weight whose vec_dot type has blocks of block (32: Q8_0, 256: Q8_K,
// with the 16-value sums the k-quant dots read).
func prepQ8(c backend.CPUCall, p *prepared, wt gguf.Type, in act, block int) {
	K, T := c.Args[3].I, c.Args[5].I
	if K%block != 0 {
		panic(fmt.Sprintf("cpu: matmul_q %v: K = %d is not a multiple of the activation block %d", wt, K, block))
	}
	// The Q8_0 tiles read 4 tokens at a time: their activations are padded
	// to a multiple of 4 with zero tokens (whose outputs are not stored),
	// and kept +128 for the VNNI kernels too.
	tiles := block == 32 && ggmlnum.TileTypes(wt)
	tp := T
	if tiles {
		tp = (T + 3) &^ 3
	}
	p.xs = grow(p.xs, T*K)
	p.xq = grow(p.xq, tp*K)
	p.xd = grow(p.xd, tp*K/block)
	in.bind(c.Args[1]).load(0, p.xs)
	if block == 32 {
		ggmlnum.QuantizeQ8_0(p.xs, p.xq[:T*K], p.xd[:T*K/32])
		if tiles {
			clear(p.xq[T*K:])
			clear(p.xd[T*K/32:])
			p.xu = grow(p.xu, tp*K)
			ggmlnum.ShiftQuants(p.xu, p.xq)
		}
		return
	}
	ggmlnum.QuantizeQ8_K(p.xs, p.xq, p.xd)
	p.xsum = grow(p.xsum, T*K/16)
	ggmlnum.SubSums16(p.xq, p.xsum)
}

// prepFloat loads the dispatch's activations once, rounded to f16 / bf16
// for F16 / BF16 weights (ggml's vec_dot types); BF16's are also packed
// as bf16 bits (p.xb), the operand of the vdpbf16ps kernels.
func prepFloat(c backend.CPUCall, p *prepared, wt gguf.Type, in act) {
	K, T := c.Args[3].I, c.Args[5].I
	p.xs = grow(p.xs, T*K)
	in.bind(c.Args[1]).load(0, p.xs)
	switch wt {
	case gguf.TypeF16:
		ggmlnum.RoundF16(p.xs)
	case gguf.TypeBF16:
		ggmlnum.RoundForDot(gguf.TypeBF16, p.xs)
		p.xb = grow(p.xb, T*K)
		ggmlnum.PackBF16(p.xb, p.xs)
	}
}

// ggmlMatMul returns OpMatMulQ's prep and item functions for the weight
// types whose ggml kernels are reproduced (GGMLExact), or ok = false.
func ggmlMatMul(wt gguf.Type, in, out act) (prep, items func(backend.CPUCall, *prepared), ok bool) {
	q8 := func(block int, dot intDot, dot4 func([]byte, int, []int8, []float32) [4]float32) (func(backend.CPUCall, *prepared), func(backend.CPUCall, *prepared), bool) {
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, block) },
			func(c backend.CPUCall, p *prepared) { matmulInt(c, p, wt, out, block, dot, dot4) }, true
	}
	switch wt {
	case gguf.TypeF32, gguf.TypeF16:
		return func(c backend.CPUCall, p *prepared) { prepFloat(c, p, wt, in) },
			func(c backend.CPUCall, p *prepared) { matmulFloat(c, p, wt, out) }, true
	case gguf.TypeBF16:
		return func(c backend.CPUCall, p *prepared) { prepFloat(c, p, wt, in) },
			func(c backend.CPUCall, p *prepared) { matmulBF16(c, p, out) }, true
	case gguf.TypeQ8_0, gguf.TypeQ5_0:
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, 32) },
			func(c backend.CPUCall, p *prepared) { matmulQ8Tiles(c, p, wt, out) }, true
	case gguf.TypeIQ4_NL:
		return q8(32, vecDot(ggmlnum.DotIQ4_NL), nil)
	case gguf.TypeQ6_K:
		prep, items, ok := q8(256, func(row []byte, xq []int8, xd []float32, xsum []int32, _ bool) float32 {
			return ggmlnum.DotQ6_K(row, xq, xd, xsum)
		}, nil)
		return prep, withKRows(items, wt, out, ggmlnum.DotQ6_KRows), ok
	}
	return nil, nil, false
}

// kRows is a k-quant's decode dot over a run of weight rows
// (ggmlnum.DotQ4_KRows, DotQ6_KRows).
type kRows func(out []float32, w []byte, stride int, xq []int8, xd []float32, xsum []int32)

// withKRows runs one token (decode) through rows, whole runs of weight
// rows at a time, and anything else through items: the same values as
// matmulInt's one output at a time (GEMV), faster.
func withKRows(items func(backend.CPUCall, *prepared), wt gguf.Type, out act, rows kRows) func(backend.CPUCall, *prepared) {
	return func(c backend.CPUCall, p *prepared) {
		K, T := c.Args[3].I, c.Args[5].I
		if T != 1 {
			items(c, p)
			return
		}
		rb, err := gguf.RowBytes(wt, K)
		if err != nil {
			panic(err)
		}
		sc := getScratch(c.Hi - c.Lo)
		defer putScratch(sc)
		o := out.bind(c.Args[0])
		d := o.dst(c.Lo, len(*sc), *sc)
		rows(d, c.Args[2].Bytes()[c.Lo*rb:], rb, p.xq[:K], p.xd[:K/256], p.xsum[:K/16])
		o.finish(c.Lo, d)
	}
}

// ggmlMatMulRows is ggmlMatMul for the kernels llama.cpp picks by the
// weight's row count (its repacked Q4_0 and Q4_K kernels need N a
// multiple of 8), resolved per dispatch.
func ggmlMatMulRows(wt gguf.Type, n int, in, out act) (prep, items func(backend.CPUCall, *prepared), ok bool) {
	switch {
	case wt == gguf.TypeQ4_0 && n%8 == 0: // repacked by llama.cpp
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, 32) },
			func(c backend.CPUCall, p *prepared) { matmulInt(c, p, wt, out, 32, vecDot(ggmlnum.DotQ4_0x8), nil) }, true
	case wt == gguf.TypeQ4_0:
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, 32) },
			func(c backend.CPUCall, p *prepared) { matmulInt(c, p, wt, out, 32, vecDot(ggmlnum.DotQ4_0), nil) }, true
	case wt == gguf.TypeIQ4_NL && n%8 == 0: // repacked by llama.cpp
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, 32) },
			func(c backend.CPUCall, p *prepared) { matmulInt(c, p, wt, out, 32, vecDot(ggmlnum.DotIQ4_NLx8), nil) }, true
	case wt == gguf.TypeQ4_K && n%8 == 0: // repacked by llama.cpp
		return func(c backend.CPUCall, p *prepared) { prepQ8(c, p, wt, in, 256) },
			withKRows(func(c backend.CPUCall, p *prepared) { matmulInt(c, p, wt, out, 256, ggmlnum.DotQ4_Kx8, nil) },
				wt, out, ggmlnum.DotQ4_KRows), true
	}
	return ggmlMatMul(wt, in, out)
}

// GGMLExact reports whether OpMatMulQ with weights of type t and n rows
// reproduces llama.cpp's CPU result bit for bit (on an AVX-512 build of
// libggml-cpu; BF16 also needs AVX512_BF16): F32, F16, BF16, Q8_0, Q4_0,
// Q5_0, Q6_K, and Q4_K and IQ4_NL when llama.cpp repacks them (n a
// multiple of 8). Other types (Q4_1, Q5_1, Q2_K, Q3_K, Q5_K, …) use the
// rounded-input float dot: close, but not to the bit (Q8_0 and Q4_K
// measured final-logit NMSE up to 1.3e-4 and 2.5e-4 that way before their
// kernels were reproduced).
func GGMLExact(t gguf.Type, n int) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ6_K:
		return true
	case gguf.TypeQ4_K, gguf.TypeIQ4_NL:
		return n%8 == 0
	}
	return false
}
