package cpu_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
)

// TestProfilesDiffer: the ops whose arithmetic the profiles define
// differently (rmsnorm, rope, attention, swiglu) run different kernels
// under plain and ggml-cpu: on the same inputs their outputs differ in the
// last bits (backendtest holds each within its own bounds), while the
// exact ops and matmul give the same bits.
func TestProfilesDiffer(t *testing.T) {
	b := cpu.New(backend.Options{Threads: 1})
	rng := rand.New(rand.NewPCG(3, 4))
	buf := func(n int, a float64) backend.Buffer {
		raw := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32((2*rng.Float64()-1)*a)))
		}
		x, err := b.Alloc(len(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(x, 0, raw); err != nil {
			t.Fatal(err)
		}
		return x
	}
	const n, rows, heads, hd = 256, 8, 4, 64
	pos := func(p int) backend.Arg {
		x, _ := b.Alloc(4)
		b.Upload(x, 0, binary.LittleEndian.AppendUint32(nil, uint32(p)))
		return backend.Buf(x)
	}
	x, y, g := buf(rows*n, 3), buf(rows*n, 2), buf(n, 1)
	kc, vc := buf(40*heads*hd, 1), buf(40*heads*hd, 1)
	cases := []struct {
		op     string
		differ bool
		grid   backend.Grid
		args   func(out backend.Buffer) []backend.Arg
	}{
		{backend.OpRMSNorm, true, backend.Grid{X: rows}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Buf(g), backend.Int(n), backend.Float(1e-5)}
		}},
		{backend.OpRope, true, backend.Grid{X: 2 * heads}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Int(heads), backend.Int(hd), backend.Int(hd), pos(3000), backend.Float(10000), backend.Int(1)}
		}},
		{backend.OpAttention, true, backend.Grid{X: 2 * heads}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Buf(kc), backend.Buf(vc), backend.Int(heads), backend.Int(heads), backend.Int(hd), pos(37), backend.Float(0.125)}
		}},
		{backend.OpSwiGLU, true, backend.Grid{X: rows}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Buf(y), backend.Int(n)}
		}},
		{backend.OpAdd, false, backend.Grid{X: rows}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Buf(y), backend.Int(n)}
		}},
		{backend.OpMatMul, false, backend.Grid{X: 8}, func(o backend.Buffer) []backend.Arg {
			return []backend.Arg{backend.Buf(o), backend.Buf(x), backend.Buf(y), backend.Int(n), backend.Int(8), backend.Int(rows)}
		}},
	}
	for _, c := range cases {
		var outs [2][]byte
		for i, p := range []backend.Numerics{backend.Plain, backend.GGMLCPU} {
			k, err := b.Load(backend.KernelSpec{Name: c.op, Numerics: p})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := b.Alloc(4 * rows * n)
			enc := b.Begin()
			enc.Dispatch(k, c.grid, c.args(out)...)
			if err := enc.Commit(); err != nil {
				t.Fatalf("%s under %s: %v", c.op, p, err)
			}
			outs[i] = make([]byte, out.Size())
			b.Download(outs[i], out, 0)
		}
		if differ := string(outs[0]) != string(outs[1]); differ != c.differ {
			t.Errorf("%s: plain and ggml-cpu outputs differ = %v, want %v", c.op, differ, c.differ)
		}
	}
}
