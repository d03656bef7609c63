package cuda

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// Launch parameters of the built-in kernels. They are the knobs to tune on
// the GPU: the kernel sources receive them as constexpr constants
// (launchConstants), so Shape and the kernels always agree, and a change
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
	atWarps = 4
	atMaxHD = 256
)

// launchConstants is the C++ form of the launch parameters, emitted in
// front of every kernel source.
func launchConstants() string {
	return fmt.Sprintf(`// Launch parameters (cuda/builtin_shape.go).
static constexpr int MM_GEMV_UNROLL = %d;
static constexpr int MM_GEMM_ROWS = %d;
static constexpr int MM_GEMM_COLS = %d;
static constexpr int EW_PER = %d;
static constexpr int AT_WARPS = %d;
static constexpr int AT_MAXHD = %d;
`, mmGemvUnroll, mmGemmRows, mmGemmCols, ewPer, atWarps, atMaxHD)
}

// dims returns the launch dimension triple (x, y, 1). A grid with a zero
// dimension (no rows, no tokens) has nothing to compute: the backend skips
// the launch.
func dims(x, y int) [3]int { return [3]int{x, y, 1} }

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// warpThreads rounds n up to whole warps, between 32 and most.
func warpThreads(n, most int) int { return min(max(32*ceilDiv(n, 32), 32), most) }

// argI returns integer argument i, or 0 when the dispatch has fewer
// arguments (the backend reports the arity error).
func argI(args []backend.Arg, i int) int {
	if i < len(args) {
		return args[i].I
	}
	return 0
}

// matmulShape: T = 1 a warp per row, mmGemvWarps rows per block; T > 1
// blocks of mmGemmWarps warps × mmGemmRows rows × mmGemmCols tokens.
func matmulShape(_ backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	N, T := argI(args, 4), argI(args, 5)
	if T == 1 {
		return dims(ceilDiv(N, mmGemvWarps), 1), dims(32*mmGemvWarps, 1), 0
	}
	return dims(ceilDiv(N, mmGemmWarps*mmGemmRows), ceilDiv(T, mmGemmCols)), dims(32*mmGemmWarps, 1), 0
}

// rmsnormShape: a block per row, threads for the row length up to
// rnThreads.
func rmsnormShape(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return dims(g.Items(), 1), dims(warpThreads(argI(args, 3), rnThreads), 1), 0
}

// splitShape is the launch of an elementwise op over rows rows of n:
// blocks of up to ewThreads threads, each covering threads·ewPer elements.
func splitShape(rows, n int) (grid, block [3]int, shared int) {
	threads := warpThreads(ceilDiv(n, ewPer), ewThreads)
	return dims(rows, ceilDiv(n, threads*ewPer)), dims(threads, 1), 0
}

// rowSplitShape is splitShape over the dispatch's rows with n its integer
// argument ni.
func rowSplitShape(ni int) func(backend.Grid, []backend.Arg) ([3]int, [3]int, int) {
	return func(g backend.Grid, args []backend.Arg) ([3]int, [3]int, int) {
		return splitShape(g.Items(), argI(args, ni))
	}
}

func embedShape(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return splitShape(g.Items(), argI(args, 3))
}

func addBiasShape(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return splitShape(g.Items(), argI(args, 3))
}

func copyShape(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return splitShape(g.Items(), argI(args, 2))
}

// ropeShape: a block per (t, head), a thread per rotated pair.
func ropeShape(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int) {
	return dims(g.Items(), 1), dims(warpThreads(argI(args, 4)/2, rpThreads), 1), 0
}

// attentionShape: a block of atWarps warps per (t, head).
func attentionShape(g backend.Grid, _ []backend.Arg) (grid, block [3]int, shared int) {
	return dims(g.Items(), 1), dims(32*atWarps, 1), 0
}
