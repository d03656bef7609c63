package metal

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// shapeArgs builds the argument list of op with the named integer values
// (buffers are placeholders: Shape reads integers only).
func shapeArgs(op string, ints map[int]int) []backend.Arg {
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

// TestBuiltinShape checks the launches of the qwen2.5-0.5b decode and
// prompt dispatches (d 896, ff 4864, vocab 151936, 14/2 heads of 64).
func TestBuiltinShape(t *testing.T) {
	for _, c := range []struct {
		name    string
		op      string
		items   int
		ints    map[int]int
		grid    [3]int
		threads int
		tgMem   int
	}{
		{"q proj decode", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 1}, [3]int{224, 1, 1}, 128, 0},
		{"k proj decode", backend.OpMatMul, 128, map[int]int{3: 896, 4: 128, 5: 1}, [3]int{32, 1, 1}, 128, 0},
		{"lm head decode", backend.OpMatMul, 151936, map[int]int{3: 896, 4: 151936, 5: 1}, [3]int{37984, 1, 1}, 128, 0},
		{"gate prompt 64", backend.OpMatMul, 4864, map[int]int{3: 896, 4: 4864, 5: 64}, [3]int{608, 8, 1}, 128, 0},
		{"down prompt 512", backend.OpMatMul, 896, map[int]int{3: 4864, 4: 896, 5: 512}, [3]int{112, 64, 1}, 128, 0},
		{"q proj prompt 37", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 37}, [3]int{112, 5, 1}, 128, 0},
		{"no tokens", backend.OpMatMul, 896, map[int]int{3: 896, 4: 896, 5: 0}, [3]int{112, 0, 1}, 128, 0},
		{"rmsnorm decode", backend.OpRMSNorm, 1, map[int]int{3: 896}, [3]int{1, 1, 1}, 256, 32},
		{"q_norm per head", backend.OpRMSNorm, 14 * 64, map[int]int{3: 128}, [3]int{896, 1, 1}, 128, 16},
		{"rmsnorm short rows", backend.OpRMSNorm, 3, map[int]int{3: 5}, [3]int{3, 1, 1}, 32, 16},
		{"add decode", backend.OpAdd, 1, map[int]int{3: 896}, [3]int{1, 1, 1}, 224, 0},
		{"swiglu decode", backend.OpSwiGLU, 1, map[int]int{3: 4864}, [3]int{1, 5, 1}, 256, 0},
		{"bias k decode", backend.OpAddBias, 1, map[int]int{3: 128}, [3]int{1, 1, 1}, 32, 0},
		{"copy k to cache", backend.OpCopy, 1, map[int]int{2: 128}, [3]int{1, 1, 1}, 32, 0},
		{"embed prompt", backend.OpEmbed, 64, map[int]int{3: 896}, [3]int{64, 1, 1}, 224, 0},
		{"empty rows", backend.OpAdd, 3, map[int]int{3: 0}, [3]int{3, 0, 1}, 32, 0},
		{"rope q decode", backend.OpRope, 14, map[int]int{2: 14, 3: 64, 4: 64}, [3]int{14, 1, 1}, 32, 0},
		{"rope hd 256", backend.OpRope, 8, map[int]int{2: 8, 3: 256, 4: 256}, [3]int{8, 1, 1}, 128, 0},
		{"attention decode", backend.OpAttention, 14, map[int]int{4: 14, 5: 2, 6: 64}, [3]int{14, 1, 1}, 128, 1312},
		{"attention hd 256", backend.OpAttention, 32, map[int]int{4: 32, 5: 8, 6: 256}, [3]int{32, 1, 1}, 128, 5152},
		{"attention hd past the limit", backend.OpAttention, 1, map[int]int{4: 1, 5: 1, 6: 512}, [3]int{1, 1, 1}, 128, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			ls := builtinOps[c.op].shape(backend.Grid{X: c.items}, shapeArgs(c.op, c.ints))
			if ls.grid != c.grid || ls.threads != [3]int{c.threads, 1, 1} || ls.tgMem != c.tgMem {
				t.Errorf("launch %+v, want grid %v, %d threads, %d bytes of threadgroup memory", ls, c.grid, c.threads, c.tgMem)
			}
		})
	}
}

// TestBuiltinShapeLimits checks, over random sizes, that every launch is
// one Metal accepts (1-D threadgroups of whole SIMD groups, at most the
// op's declared threads; threadgroup memory a multiple of 16 within 32
// KiB, given exactly to the ops that take it) and that its threadgroups
// cover every output.
func TestBuiltinShapeLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		op := builtinNames()[rng.IntN(len(builtinNames()))]
		n, T := 1+rng.IntN(20000), 1+rng.IntN(600)
		hd := 4 * (1 + rng.IntN(64))
		heads := 1 + rng.IntN(64)
		ints := map[int]int{}
		rows := T
		switch op {
		case backend.OpMatMul:
			ints = map[int]int{3: n, 4: n, 5: T}
		case backend.OpRMSNorm, backend.OpAdd, backend.OpSwiGLU, backend.OpAddBias, backend.OpEmbed:
			ints = map[int]int{3: n}
		case backend.OpCopy:
			ints = map[int]int{2: n}
		case backend.OpRope:
			ints, rows = map[int]int{2: heads, 3: hd, 4: hd}, T*heads
		case backend.OpAttention:
			ints, rows = map[int]int{4: heads, 5: 1, 6: hd}, T*heads
		}
		o := builtinOps[op]
		ls := o.shape(backend.Grid{X: rows}, shapeArgs(op, ints))
		name := fmt.Sprintf("%s %v rows %d", op, ints, rows)
		th := ls.threads[0]
		if th%simdWidth != 0 || th < simdWidth || th > o.threads || ls.threads[1] != 1 || ls.threads[2] != 1 {
			t.Fatalf("%s: threads %v (the op declares at most %d)", name, ls.threads, o.threads)
		}
		if ls.tgMem%tgMemAlign != 0 || ls.tgMem > 32<<10 || (ls.tgMem > 0) != o.tgMem {
			t.Fatalf("%s: %d bytes of threadgroup memory", name, ls.tgMem)
		}
		for i, g := range ls.grid {
			if g < 0 || g > maxGrid[i] {
				t.Fatalf("%s: grid %v", name, ls.grid)
			}
		}
		switch op {
		case backend.OpMatMul:
			perTG := (th / simdWidth) * map[bool]int{true: 1, false: mmGemmRows}[T == 1]
			cols := map[bool]int{true: 1, false: mmGemmCols}[T == 1]
			if ls.grid[0]*perTG < n || ls.grid[1]*cols < T {
				t.Fatalf("%s: grid %v of %d threads covers too little", name, ls.grid, th)
			}
		case backend.OpAdd, backend.OpSwiGLU, backend.OpAddBias, backend.OpEmbed, backend.OpCopy:
			if ls.grid[0] != rows || ls.grid[1]*th*ewPer < n {
				t.Fatalf("%s: grid %v of %d threads covers too little", name, ls.grid, th)
			}
		default:
			if ls.grid[0] != rows {
				t.Fatalf("%s: grid %v, want a threadgroup per row", name, ls.grid)
			}
		}
	}
}
