package metal

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// Launch parameters of the built-in kernels. They are the knobs to tune on
// Apple hardware: the kernel sources receive them as #defines
// (builtinConstants), so Shape and the kernels always agree, and a change
// changes every source (the pipeline cache recompiles).
const (
	// mmGemvSimds is the number of weight rows (one SIMD group each) a
	// threadgroup of the T = 1 matmul computes.
	mmGemvSimds = 4
	// mmGemvUnroll is the number of chunk loads a lane of the T = 1
	// matmul issues before using any (memory-level parallelism).
	mmGemvUnroll = 8
	// mmGemmSimds is the number of SIMD groups of a T > 1 matmul
	// threadgroup.
	mmGemmSimds = 4
	// mmGemmRows is the number of weight rows a SIMD group of the T > 1
	// matmul computes.
	mmGemmRows = 2
	// mmGemmCols is the number of x rows (tokens) a T > 1 matmul SIMD
	// group computes: each decoded weight chunk is used that many times.
	mmGemmCols = 8
	// rnThreads is the most threads of an RMSNorm threadgroup (one row).
	rnThreads = 256
	// ewThreads is the most threads of an elementwise threadgroup, ewPer
	// the elements each thread handles per threadgroup: a threadgroup
	// covers threads·ewPer elements of a row.
	ewThreads = 256
	ewPer     = 4
	// rpThreads is the most threads of a RoPE threadgroup (one head).
	rpThreads = 128
	// atSimds is the number of SIMD groups of an attention threadgroup
	// (one query row and head); atMaxHD the largest head dim it supports;
	// atKBatch the value rows a lane loads before using them.
	atSimds  = 4
	atMaxHD  = 256
	atKBatch = 8
	// simdWidth is the SIMD-group width the kernels are written for
	// (every Apple GPU); the backend refuses a pipeline with another
	// threadExecutionWidth.
	simdWidth = 32
	// tgMemAlign is the granularity of threadgroup memory lengths Metal
	// requires (setThreadgroupMemoryLength:atIndex: takes multiples of 16).
	tgMemAlign = 16
)

// builtinConstants is the MSL form of the launch parameters, emitted in
// front of every kernel source.
func builtinConstants() string {
	return fmt.Sprintf(`// Launch parameters (metal/builtin_shape.go).
#define MM_GEMV_UNROLL %d
#define MM_GEMM_ROWS %d
#define MM_GEMM_COLS %d
#define EW_PER %d
#define AT_SIMDS %d
#define AT_MAXHD %d
#define AT_KBATCH %d
`, mmGemvUnroll, mmGemmRows, mmGemmCols, ewPer, atSimds, atMaxHD, atKBatch)
}

// launchShape is the launch of one dispatch: threadgroups in the grid,
// threads per threadgroup (1-D: threads[1] = threads[2] = 1) and dynamic
// threadgroup memory in bytes (a multiple of 16; 0 for none).
type launchShape struct {
	grid    [3]int
	threads [3]int
	tgMem   int
}

// kdims returns the launch dimension triple (x, y, 1). A grid with a zero
// dimension (no rows, no tokens) has nothing to compute: the backend skips
// the dispatch.
func kdims(x, y int) [3]int { return [3]int{x, y, 1} }

// kceil is ⌈a/b⌉ for a ≥ 0, b > 0.
func kceil(a, b int) int { return (a + b - 1) / b }

// ksimdThreads rounds n up to whole SIMD groups, between 32 and most.
func ksimdThreads(n, most int) int { return min(max(simdWidth*kceil(n, simdWidth), simdWidth), most) }

// ktgMem rounds n bytes of threadgroup memory up to Metal's granularity.
func ktgMem(n int) int { return kceil(n, tgMemAlign) * tgMemAlign }

// kargI returns integer argument i, or 0 when the dispatch has fewer
// arguments (the backend reports the arity error).
func kargI(args []backend.Arg, i int) int {
	if i < len(args) {
		return args[i].I
	}
	return 0
}

// shapeMatMul: T = 1 a SIMD group per row, mmGemvSimds rows per
// threadgroup; T > 1 threadgroups of mmGemmSimds SIMD groups ×
// mmGemmRows rows × mmGemmCols tokens.
func shapeMatMul(_ backend.Grid, args []backend.Arg) launchShape {
	N, T := kargI(args, 4), kargI(args, 5)
	if T == 1 {
		return launchShape{kdims(kceil(N, mmGemvSimds), 1), kdims(simdWidth*mmGemvSimds, 1), 0}
	}
	return launchShape{kdims(kceil(N, mmGemmSimds*mmGemmRows), kceil(T, mmGemmCols)), kdims(simdWidth*mmGemmSimds, 1), 0}
}

// shapeRMSNorm: a threadgroup per row, threads for the row length up to
// rnThreads, one float of threadgroup memory per SIMD group.
func shapeRMSNorm(g backend.Grid, args []backend.Arg) launchShape {
	threads := ksimdThreads(kargI(args, 3), rnThreads)
	return launchShape{kdims(g.Items(), 1), kdims(threads, 1), ktgMem(4 * threads / simdWidth)}
}

// shapeSplit is the launch of an elementwise op over rows rows of n:
// threadgroups of up to ewThreads threads, each covering threads·ewPer
// elements.
func shapeSplit(rows, n int) launchShape {
	threads := ksimdThreads(kceil(n, ewPer), ewThreads)
	return launchShape{kdims(rows, kceil(n, threads*ewPer)), kdims(threads, 1), 0}
}

// shapeRowSplit is shapeSplit over the dispatch's rows with n its integer
// argument ni.
func shapeRowSplit(ni int) func(backend.Grid, []backend.Arg) launchShape {
	return func(g backend.Grid, args []backend.Arg) launchShape {
		return shapeSplit(g.Items(), kargI(args, ni))
	}
}

// shapeRope: a threadgroup per (t, head), a thread per rotated pair.
func shapeRope(g backend.Grid, args []backend.Arg) launchShape {
	return launchShape{kdims(g.Items(), 1), kdims(ksimdThreads(kargI(args, 4)/2, rpThreads), 1), 0}
}

// shapeAttention: a threadgroup of atSimds SIMD groups per (t, head), with
// threadgroup memory for the query row, the SIMD groups' maxima and sums
// and their partial outputs (attention.metal).
func shapeAttention(g backend.Grid, args []backend.Arg) launchShape {
	hd := kargI(args, 6)
	mem := tgMemAlign // head dims past atMaxHD write NaN without using it
	if hd > 0 && hd <= atMaxHD {
		mem = ktgMem(4 * (hd*(atSimds+1) + 2*atSimds))
	}
	return launchShape{kdims(g.Items(), 1), kdims(simdWidth*atSimds, 1), mem}
}
