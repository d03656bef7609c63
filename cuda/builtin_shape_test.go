package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// builtinShapeArgs builds the argument list of op with the named integer values
// (buffers are placeholders: Shape reads integers only).
func builtinShapeArgs(op string, ints map[int]int) []backend.Arg {
	sig := builtinOps[op].sig
	args := make([]backend.Arg, len(sig))
	for i, c := range sig {
		switch c {
		case 'b':
			args[i] = backend.Arg{Kind: backend.ArgBuffer}
		case 'i':
			args[i] = backend.Int(ints[i])
		case 'f':
			args[i] = backend.Float(1)
		}
	}
	return args
}

// TestBuiltinShape checks the launch shapes of the qwen2.5-0.5b decode and
// prompt dispatches (d 896, ff 4864, vocab 151936, 14/2 heads of 64).
func TestBuiltinShape(t *testing.T) {
	for _, c := range []struct {
		name  string
		op    string
		items int
		ints  map[int]int
		grid  [3]int
		block int
	}{
		{"q proj decode", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 1}, [3]int{224, 1, 1}, 128},
		{"k proj decode", backend.OpMatMul, 128, map[int]int{3: 896, 4: 128, 5: 1}, [3]int{32, 1, 1}, 128},
		{"gate decode", backend.OpMatMul, 4864, map[int]int{3: 896, 4: 4864, 5: 1}, [3]int{1216, 1, 1}, 128},
		{"down decode", backend.OpMatMul, 896, map[int]int{3: 4864, 4: 896, 5: 1}, [3]int{224, 1, 1}, 128},
		{"lm head decode", backend.OpMatMul, 151936, map[int]int{3: 896, 4: 151936, 5: 1}, [3]int{37984, 1, 1}, 128},
		{"gate prompt 64", backend.OpMatMul, 4864, map[int]int{3: 896, 4: 4864, 5: 64}, [3]int{608, 8, 1}, 128},
		{"down prompt 512", backend.OpMatMul, 896, map[int]int{3: 4864, 4: 896, 5: 512}, [3]int{112, 64, 1}, 128},
		{"q proj prompt 37", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 37}, [3]int{112, 5, 1}, 128},
		{"no tokens", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 0}, [3]int{112, 0, 1}, 128},
		{"rmsnorm decode", backend.OpRMSNorm, 1, map[int]int{3: 896}, [3]int{1, 1, 1}, 256},
		{"q_norm per head", backend.OpRMSNorm, 14 * 64, map[int]int{3: 128}, [3]int{896, 1, 1}, 128},
		{"rmsnorm short rows", backend.OpRMSNorm, 3, map[int]int{3: 5}, [3]int{3, 1, 1}, 32},
		{"add decode", backend.OpAdd, 1, map[int]int{3: 896}, [3]int{1, 1, 1}, 224},
		{"swiglu decode", backend.OpSwiGLU, 1, map[int]int{3: 4864}, [3]int{1, 5, 1}, 256},
		{"swiglu prompt", backend.OpSwiGLU, 64, map[int]int{3: 4864}, [3]int{64, 5, 1}, 256},
		{"bias k decode", backend.OpAddBias, 1, map[int]int{3: 128}, [3]int{1, 1, 1}, 32},
		{"copy k to cache", backend.OpCopy, 1, map[int]int{2: 128}, [3]int{1, 1, 1}, 32},
		{"embed prompt", backend.OpEmbed, 64, map[int]int{3: 896}, [3]int{64, 1, 1}, 224},
		{"empty rows", backend.OpAdd, 3, map[int]int{3: 0}, [3]int{3, 0, 1}, 32},
		{"rope q decode", backend.OpRope, 14, map[int]int{2: 14, 3: 64, 4: 64}, [3]int{14, 1, 1}, 32},
		{"rope hd 128", backend.OpRope, 32, map[int]int{2: 32, 3: 128, 4: 128}, [3]int{32, 1, 1}, 64},
		{"rope hd 512", backend.OpRope, 2, map[int]int{2: 2, 3: 512, 4: 512}, [3]int{2, 1, 1}, 128},
		{"attention decode", backend.OpAttention, 14, map[int]int{4: 14, 5: 2, 6: 64}, [3]int{14, 1, 1}, 256},
		{"attention prompt", backend.OpAttention, 64 * 14, map[int]int{4: 14, 5: 2, 6: 64}, [3]int{896, 1, 1}, 256},
	} {
		t.Run(c.name, func(t *testing.T) {
			grid, block, shared := builtinOps[c.op].shape(backend.Grid{X: c.items}, builtinShapeArgs(c.op, c.ints))
			if grid != c.grid || block != [3]int{c.block, 1, 1} || shared != 0 {
				t.Errorf("grid %v block %v shared %d, want grid %v block [%d 1 1] shared 0", grid, block, shared, c.grid, c.block)
			}
		})
	}
}

// TestBuiltinShapeLimits checks random shapes of every op: blocks of whole
// warps within CUDA's 1024 threads and __launch_bounds__, grids in range,
// and a grid that covers every output with no block left idle (the kernels
// map outputs to blocks by the same constants).
func TestBuiltinShapeLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		op := builtinNames()[i%len(builtinOps)]
		rows, n, T, N := 1+rng.IntN(600), 1+rng.IntN(20000), 1+rng.IntN(1024), 1+rng.IntN(200000)
		hd := 2 * (1 + rng.IntN(atMaxHD/2))
		ints := map[string]map[int]int{
			backend.OpMatMul:    {3: 32, 4: N, 5: T},
			backend.OpRMSNorm:   {3: n},
			backend.OpEmbed:     {3: n},
			backend.OpAddBias:   {3: n},
			backend.OpAdd:       {3: n},
			backend.OpSwiGLU:    {3: n},
			backend.OpCopy:      {2: n},
			backend.OpRope:      {2: 1, 3: hd, 4: hd},
			backend.OpAttention: {4: 1, 5: 1, 6: hd},
		}[op]
		items := rows
		if op == backend.OpMatMul {
			items = N
		}
		grid, block, shared := builtinOps[op].shape(backend.Grid{X: items}, builtinShapeArgs(op, ints))
		name := fmt.Sprintf("%s items=%d ints=%v: grid %v block %v", op, items, ints, grid, block)
		if block[0] < 32 || block[0]%32 != 0 || block[0] > builtinOps[op].threads || block[0] > 1024 || block[1] != 1 || block[2] != 1 {
			t.Fatalf("%s: block not whole warps within __launch_bounds__(%d)", name, builtinOps[op].threads)
		}
		if grid[1] > 65535 || grid[2] != 1 || shared != 0 {
			t.Fatalf("%s: grid y/z or shared out of range", name)
		}
		// covers reports whether per·blocks covers want with the last
		// block holding at least one.
		covers := func(blocks, per, want int) bool { return blocks*per >= want && (blocks-1)*per < want }
		switch op {
		case backend.OpMatMul:
			if T == 1 && !covers(grid[0], block[0]/32, N) {
				t.Fatalf("%s: gemv rows", name)
			}
			if T > 1 && (!covers(grid[0], block[0]/32*mmGemmRows, N) || !covers(grid[1], mmGemmCols, T)) {
				t.Fatalf("%s: gemm tiles", name)
			}
		case backend.OpRMSNorm, backend.OpRope, backend.OpAttention:
			if grid[0] != rows || grid[1] != 1 {
				t.Fatalf("%s: want a block per item", name)
			}
		default:
			if grid[0] != rows || !covers(grid[1], block[0]*ewPer, n) {
				t.Fatalf("%s: elementwise split", name)
			}
		}
	}
}

// TestBuiltinStaticShared checks the static shared memory of the kernels
// stays under the 48 KiB a block gets without the opt-in attribute (the
// kernels declare fixed arrays; Shape reports no dynamic shared memory).
func TestBuiltinStaticShared(t *testing.T) {
	blockSum := 32 * 4 // common.cu's block_sum partials
	attention := (atMaxHD*(atWarps+1) + 2*atWarps) * 4
	for name, bytes := range map[string]int{"rmsnorm": blockSum, "attention": attention} {
		if bytes > 48<<10 {
			t.Errorf("%s: %d bytes of static shared memory > 48 KiB", name, bytes)
		}
	}
	if atMaxHD%32 != 0 || 32*atWarps > 1024 || 32*mmGemvWarps > 1024 || 32*mmGemmWarps > 1024 {
		t.Errorf("launch constants out of range")
	}
}
