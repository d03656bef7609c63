package ggmlnum

import (
	"math"

	"github.com/metallic-go/metallic/gguf"
)

// Flash tiles and thresholds of ggml's CPU flash attention.
const (
	// FlashTileQ is GGML_FA_TILE_Q: batches of at least this many queries
	// run the tiled kernel (when the value width is a multiple of 16).
	FlashTileQ = 64
	// FlashTileKV is GGML_FA_TILE_KV: cells per tile of the tiled kernel.
	FlashTileKV = 64
	// FlashSplitCells is the KV length from which a single query's cells
	// are split into one chunk per thread.
	FlashSplitCells = 512
)

// Flash reproduces ggml_compute_forward_flash_attn_ext_f16, the CPU flash
// attention of the pinned ggml build (GGML_OP_FLASH_ATTN_EXT with an f32
// query and K and V both f16 or both f32, no ALiBi, no soft-cap, no
// sinks, a causal mask of 0 and −Inf), for one query row at a time. ggml
// picks one of three kernels by the shape of the op:
//
//   - tiled (Queries ≥ FlashTileQ and DV a multiple of 16): cells in tiles
//     of FlashTileKV; a score is a chain of fused multiply-adds over the
//     head dimension starting from 0 (K widened to f32, the query not
//     rounded), times the scale; per tile the running maximum M moves to
//     the tile's, the accumulator and the sum S are rescaled by
//     expf(M_old − M_new) (the C library's expf: LibcExpf), the tile's
//     scores become ggml's soft_max (Expf in groups of 16, each group
//     summed with Reduce16 and added in float64) whose float64 sum is
//     added to S in float64 and rounded to float32, and each output
//     value is a chain of fused multiply-adds over the tile's cells;
//   - one chunk (every other shape): an online softmax cell by cell. The
//     query is rounded to the vec_dot type of K (f16 for f16 K) and each
//     score is ggml_vec_dot_f16 (DotF16) or ggml_vec_dot_f32 (DotF32),
//     times the scale. On a new maximum the accumulator is rescaled by
//     ms = expf(M_old − M) and the cell's weight is vs = 1, else
//     vs = expf(s − M); the accumulator gains v·vs with a fused
//     multiply-add — in f16 when V is f16 (each step rounded to f16,
//     ggml's VKQ16), in f32 otherwise — and S = S·ms + vs (not fused);
//   - split (a single query with Cells ≥ FlashSplitCells): the cells are
//     cut into Threads chunks of ⌈Cells/Threads⌉, each run as one chunk
//     to a partial (M, S, accumulator); the partials with S ≠ 0 are merged
//     in chunk order with M = fmaxf(M, M_c), a = fma(a, expf(M_old − M),
//     a_c·expf(M_c − M)) and S likewise.
//
// The output is the accumulator times 1/S. The split makes llama.cpp's
// single-query result depend on its thread count once the KV length
// reaches FlashSplitCells.
type Flash struct {
	// F16 says K and V are stored as f16 (the values passed are the
	// stored ones, widened exactly); false means f32.
	F16 bool
	// Scale multiplies each score (1/√head_dim).
	Scale float32
	// Queries is the number of query rows of the op (llama.cpp's ubatch).
	Queries int
	// Cells is the op's KV length (llama.cpp's padded n_kv); cells at or
	// after a query's visible count are masked.
	Cells int
	// Threads is the thread count ggml runs the op with (1 when ≤ 0).
	Threads int

	qv, part []float32 // scratch: a Flash is not safe for concurrent use
}

// scratch returns s[:n], reallocated when shorter.
func scratch(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// Row writes to out (len DV) the attention of query q (len DK) over cells
// 0…n−1 (1 ≤ n ≤ Cells; the rest are masked), where k(j) and v(j) return
// cell j's key and value rows. Masked cells are never read: the values
// llama.cpp keeps there (zeros in an unused cache) enter its result only
// as exact zeros. The tiled kernel also adds 0·v for tiles that other
// queries of the same tile of 64 queries see and this one does not; that
// can only turn an exact −0 output into +0, and Row does not model
// llama.cpp's grouping of queries into tiles.
func (f *Flash) Row(out, q []float32, n int, k, v func(j int) []float32) {
	dv := len(out)
	switch {
	case f.Queries == 1 && f.Cells >= FlashSplitCells:
		f.split(out, q, n, k, v)
	case f.Queries >= FlashTileQ && dv%16 == 0:
		f.tiled(out, q, n, k, v)
	default:
		_, s := f.chunk(out, q, 0, n, k, v)
		scaleOut(out, s)
	}
}

// scaleOut is out ·= 1/S (0 when S = 0), ggml's final ggml_vec_scale_f32.
func scaleOut(out []float32, s float32) {
	var inv float32
	if s != 0 {
		inv = 1 / s
	}
	for i := range out {
		out[i] *= inv
	}
}

// chunk is ggml_compute_forward_flash_attn_ext_f16_one_chunk over the
// visible cells lo…hi−1: it leaves the accumulator in acc (widened from
// f16 when V is f16) and returns M and S.
func (f *Flash) chunk(acc, q []float32, lo, hi int, k, v func(j int) []float32) (m, s float32) {
	qv := q
	if f.F16 {
		qv = scratch(&f.qv, len(q))
		for i, x := range q {
			qv[i] = f16Round(x)
		}
	}
	clear(acc)
	m = float32(math.Inf(-1))
	for j := lo; j < hi; j++ {
		var sc float32
		if f.F16 {
			sc = DotF16(k(j), qv)
		} else {
			sc = DotF32(k(j), qv)
		}
		sc *= f.Scale
		ms, vs := float32(1), float32(1)
		if sc > m {
			ms = LibcExpf(m - sc)
			m = sc
			for d := range acc {
				acc[d] = f.store(acc[d] * ms)
			}
		} else {
			vs = LibcExpf(sc - m)
		}
		vr := v(j)
		for d := range acc {
			acc[d] = f.store(FMA32(vr[d], vs, acc[d]))
		}
		s = float32(s*ms) + vs // not fused (the compiler keeps the product)
	}
	return m, s
}

// store rounds an accumulator value to f16 when V is f16 (ggml's VKQ16).
func (f *Flash) store(x float32) float32 {
	if f.F16 {
		return f16Widen(gguf.F32ToF16(x))
	}
	return x
}

// split is ggml's split-KV path for one query: one chunk per thread, the
// partials merged by ggml_flash_attn_ext_reduce_partials.
func (f *Flash) split(out, q []float32, n int, k, v func(j int) []float32) {
	nth := max(f.Threads, 1)
	size := (f.Cells + nth - 1) / nth
	part := scratch(&f.part, len(out))
	clear(out)
	mf, sf := float32(math.Inf(-1)), float32(0)
	for c := range nth {
		lo := c * size
		if lo >= f.Cells {
			continue
		}
		mc, sc := f.chunk(part, q, lo, max(lo, min(lo+size, n)), k, v)
		if sc == 0 {
			continue
		}
		mn := float32(math.Max(float64(mf), float64(mc)))
		so, sn := LibcExpf(mf-mn), LibcExpf(mc-mn)
		for d := range out {
			out[d] = FMA32(out[d], so, part[d]*sn)
		}
		sf = FMA32(sf, so, sc*sn)
		mf = mn
	}
	if sf != 0 {
		inv := 1 / sf
		for d := range out {
			out[d] *= inv
		}
	}
}

// tiled is ggml_compute_forward_flash_attn_ext_tiled for one query row.
func (f *Flash) tiled(out, q []float32, n int, k, v func(j int) []float32) {
	clear(out)
	m, s := float32(math.Inf(-1)), float32(0)
	var kq [FlashTileKV]float32
	for ic := 0; ic < n; ic += FlashTileKV {
		vis := min(FlashTileKV, n-ic)
		tmax := float32(math.Inf(-1))
		for t := range FlashTileKV {
			if t >= vis {
				kq[t] = float32(math.Inf(-1))
				continue
			}
			kr := k(ic + t)
			var a float32
			for d, x := range q {
				a = FMA32(kr[d], x, a)
			}
			kq[t] = float32(a*f.Scale) + 0 // + the mask's 0
			tmax = max(tmax, kq[t])
		}
		mn := float32(math.Max(float64(m), float64(tmax)))
		if mn > m {
			ms := LibcExpf(m - mn)
			for d := range out {
				out[d] *= ms
			}
			s *= ms
		}
		m = mn
		var sum float64
		for g := 0; g < FlashTileKV; g += 16 {
			e := (*[16]float32)(kq[g : g+16])
			for l := range e {
				e[l] = Expf(e[l] - mn)
			}
			sum += float64(Reduce16(e))
		}
		s = float32(float64(s) + sum)
		for t := range vis {
			fmaScale(out, v(ic+t), kq[t])
		}
		if vis < FlashTileKV {
			// Masked cells add 0·v: an exact zero, which turns −0 into +0.
			for d := range out {
				out[d] += 0
			}
		}
	}
	scaleOut(out, s)
}
