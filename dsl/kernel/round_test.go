package kernel

import (
	"fmt"
	"math"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// norm32 is the CPU RMSNorm arithmetic in float32 (the path's own input to
// the rounding, so the oracle rounds exactly the same values).
func norm32(x, g []float64, eps float32) []float32 {
	out := make([]float32, len(x))
	var ss float64
	for _, v := range x {
		f := float32(v)
		ss += float64(f * f)
	}
	inv := float32(1 / math.Sqrt(float64(float32(ss/float64(len(x)))+eps)))
	for i, v := range x {
		out[i] = (float32(v) * inv) * float32(g[i])
	}
	return out
}

// With Round, each output's input is rounded as llama.cpp rounds it for the
// weight's dot product (f16, Q8_0 blocks, Q8_K blocks), per output and per
// weight of a pair.
func TestFusedRoundedInput(t *testing.T) {
	const K, T = 512, 2
	h := newHarness(t, false, 2)
	xb, x := h.act(h.randn(T*K, 1))
	gb, g := h.weight(gguf.TypeF32, 1, K, 1)
	cases := []struct {
		types []gguf.Type
		n     []int
		pair  bool
	}{
		{[]gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K}, []int{16, 8, 8}, false},
		{[]gguf.Type{gguf.TypeBF16, gguf.TypeQ4_0, gguf.TypeQ6_K}, []int{8, 8, 8}, false},
		{[]gguf.Type{gguf.TypeQ8_0, gguf.TypeQ6_K}, []int{12}, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.types), func(t *testing.T) {
			bind := Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb)}
			var ws [][]float64
			for i, ty := range c.types {
				n := c.n[0]
				if !c.pair {
					n = c.n[i]
				}
				wb, w := h.weight(ty, n, K, 0.1)
				ws = append(ws, w)
				bind[fmt.Sprint("w", i)] = backend.Buf(wb)
			}
			outs := make([]backend.Buffer, len(c.n))
			for o, n := range c.n {
				outs[o] = h.zeros(T*n, Float)
				bind[fmt.Sprint("y", o)] = backend.Buf(outs[o])
			}
			var epis []Epilogue
			if c.pair {
				epis = append(epis, SwiGLU{})
			}
			k, err := Compose("rounded", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}},
				&Gemv{Types: c.types, K: K, N: c.n, In: Float, Out: Float, Pair: c.pair, Round: true}, epis)
			if err != nil {
				t.Fatal(err)
			}
			h.run(k, T, bind)
			in := func(r int, ty gguf.Type) []float64 {
				v := norm32(x[r*K:(r+1)*K], g, 1e-5)
				ggmlnum.RoundForDot(ty, v)
				out := make([]float64, K)
				for i, f := range v {
					out[i] = float64(f)
				}
				return out
			}
			for o, n := range c.n {
				var want []float64
				for r := 0; r < T; r++ {
					if c.pair {
						a := matvec64(ws[0], in(r, c.types[0]), n)
						b := matvec64(ws[1], in(r, c.types[1]), n)
						for i := range a {
							want = append(want, a[i]/(1+math.Exp(-a[i]))*b[i])
						}
					} else {
						want = append(want, matvec64(ws[o], in(r, c.types[o]), n)...)
					}
				}
				h.check(fmt.Sprint("output ", o), h.read(outs[o], T*n, Float), want, false)
			}
			// Without rounding the outputs differ: the test can fail.
			if c.types[0] == gguf.TypeF16 {
				k2, _ := Compose("exact", []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}},
					&Gemv{Types: c.types, K: K, N: c.n, In: Float, Out: Float}, nil)
				y := h.zeros(T*c.n[1], Float)
				bind["y1"] = backend.Buf(y)
				h.run(k2, T, bind)
				got, ref := h.read(y, T*c.n[1], Float), h.read(outs[1], T*c.n[1], Float)
				same := true
				for i := range got {
					same = same && got[i] == ref[i]
				}
				if same {
					t.Fatal("Q8_0 input rounding changed nothing")
				}
			}
		})
	}
}
