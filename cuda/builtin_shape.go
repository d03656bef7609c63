package cuda

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// Launch parameters of the built-in kernels. They are the knobs to tune on
// the GPU: the kernel sources receive them as constexpr constants
// (builtinConstants), so Shape and the kernels always agree, and a change
// changes every source's hash (the driver's module cache recompiles).
const (
	// mmGemvWarps is the number of weight rows (one warp each) a block of
	// the T = 1 matmul computes.
	mmGemvWarps = 4
	// mmGemvUnroll is the number of chunk loads a lane of the T = 1
	// matmul issues before using any (memory-level parallelism): 8 makes
	// the 0.5B down projection (K = 4864, 19 chunks a lane) three memory
	// round trips instead of five; K = 896 rows need one either way.
	mmGemvUnroll = 8
	// mmGemmWarps is the number of warps of a T > 1 matmul block.
	mmGemmWarps = 4
	// mmGemmRows is the number of weight rows a warp of the T > 1 matmul
	// computes.
	mmGemmRows = 2
	// mmGemmCols is the number of x rows (tokens) a T > 1 matmul block
	// computes: each decoded weight chunk is used that many times.
	mmGemmCols = 8
	// rnThreads is the most threads of an RMSNorm block (one row).
	rnThreads = 256
	// ewThreads is the most threads of an elementwise block, ewPer the
	// elements each thread handles per block: a block covers
	// threads·ewPer elements of a row.
	ewThreads = 256
	ewPer     = 4
	// rpThreads is the most threads of a RoPE block (one head).
	rpThreads = 128
	// atWarps is the number of warps of an attention block (one query
	// row and head); atMaxHD the largest head dim it supports.
	atWarps = 8
	atMaxHD = 256
)

// builtinConstants is the C++ form of the launch parameters, emitted in
// front of every kernel source.
func builtinConstants() string {
	return fmt.Sprintf(`// Launch parameters (cuda/builtin_shape.go).
static constexpr int MM_GEMV_UNROLL = %d;
static constexpr int MM_GEMM_ROWS = %d;
static constexpr int MM_GEMM_COLS = %d;
static constexpr int EW_PER = %d;
static constexpr int AT_WARPS = %d;
static constexpr int AT_MAXHD = %d;
`, mmGemvUnroll, mmGemmRows, mmGemmCols, ewPer, atWarps, atMaxHD)
}

// kdims returns the launch dimension triple (x, y, 1). A grid with a zero
// dimension (no rows, no tokens) has nothing to compute: the backend skips
// the launch.
func kdims(x, y int) [3]int { return [3]int{x, y, 1} }

// kceil is ⌈a/b⌉ for a ≥ 0, b > 0.
func kceil(a, b int) int { return (a + b - 1) / b }

// kwarpThreads rounds n up to whole warps, between 32 and most.
func kwarpThreads(n, most int) int { return min(max(32*kceil(n, 32), 32), most) }

// kargI returns integer argument i, or 0 when the dispatch has fewer
// arguments (the backend reports the arity error).
func kargI(args []backend.Arg, i int) int {
	if i < len(args) {
		return args[i].I
	}
	return 0
}

// shapeMatMul: T = 1 a warp per row, mmGemvWarps rows per block; T > 1
// blocks of mmGemmWarps warps × mmGemmRows rows × mmGemmCols tokens.
func shapeMatMul(_ backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	N, T := kargI(args, 4), kargI(args, 5)
	if T == 1 {
		return kdims(kceil(N, mmGemvWarps), 1), kdims(32*mmGemvWarps, 1), 0
	}
	return kdims(kceil(N, mmGemmWarps*mmGemmRows), kceil(T, mmGemmCols)), kdims(32*mmGemmWarps, 1), 0
}

// shapeRMSNorm: a block per row, threads for the row length up to
// rnThreads.
func shapeRMSNorm(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return kdims(g.Items(), 1), kdims(kwarpThreads(kargI(args, 3), rnThreads), 1), 0
}

// shapeSplit is the launch of an elementwise op over rows rows of n:
// blocks of up to ewThreads threads, each covering threads·ewPer elements.
func shapeSplit(rows, n int) (grid, block [3]int, shared int) {
	threads := kwarpThreads(kceil(n, ewPer), ewThreads)
	return kdims(rows, kceil(n, threads*ewPer)), kdims(threads, 1), 0
}

// shapeRowSplit is shapeSplit over the dispatch's rows with n its integer
// argument ni.
func shapeRowSplit(ni int) func(backend.Grid, []backend.Arg) ([3]int, [3]int, int) {
	return func(g backend.Grid, args []backend.Arg) ([3]int, [3]int, int) {
		return shapeSplit(g.Items(), kargI(args, ni))
	}
}

func shapeEmbed(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return shapeSplit(g.Items(), kargI(args, 3))
}

func shapeAddBias(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return shapeSplit(g.Items(), kargI(args, 3))
}

func shapeCopy(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return shapeSplit(g.Items(), kargI(args, 2))
}

// shapeRope: a block per (t, head), a thread per rotated pair.
func shapeRope(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return kdims(g.Items(), 1), kdims(kwarpThreads(kargI(args, 4)/2, rpThreads), 1), 0
}

// shapeAttention: a block of atWarps warps per (t, head).
func shapeAttention(g backend.Grid, _ []backend.Arg) (grid, block [3]int, shared int) {
	return kdims(g.Items(), 1), kdims(32*atWarps, 1), 0
}
