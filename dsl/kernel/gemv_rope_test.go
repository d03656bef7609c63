package kernel

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// TestRopePairRow: the slots of a head visit each of its rows once, and
// the two slots of a rotated pair hold the pair's elements, first then
// second.
func TestRopePairRow(t *testing.T) {
	for _, c := range []struct {
		hd, rd int
		neox   bool
	}{{64, 64, true}, {64, 64, false}, {80, 32, true}, {80, 32, false}, {128, 64, true}} {
		seen := map[int]bool{}
		for j := 0; j < 3*c.hd; j++ {
			r := RopePairRow(j, c.hd, c.rd, c.neox)
			if seen[r] || r/c.hd != j/c.hd {
				t.Fatalf("%+v: slot %d → row %d (seen %v, head %d)", c, j, r, seen[r], j/c.hd)
			}
			seen[r] = true
			if j%2 == 1 {
				prev, i := RopePairRow(j-1, c.hd, c.rd, c.neox)%c.hd, r%c.hd
				want := prev + 1
				if c.neox && prev < c.rd/2 {
					want = prev + c.rd/2
				}
				if i != want {
					t.Fatalf("%+v: slots %d, %d → in-head rows %d, %d; want %d, %d", c, j-1, j, prev, i, prev, want)
				}
			}
		}
	}
}

// TestGemvRopeMatchesUnfused: RMSNorm → QKV (+ bias) with RoPE fused into
// the store computes, on the CPU, bit for bit what the GEMV storing q and
// k followed by the Rope/Copy kernels computes: q_rope, k_rope at its
// cache row pos+t, v at its cache row; for both RoPE styles, both angle
// forms, a partial rope_dim, f32 and f16 storage and every row layout.
func TestGemvRopeMatchesUnfused(t *testing.T) {
	const K, T, hd, heads, kvh, pos = 256, 3, 32, 4, 2, 7
	N := []int{heads * hd, kvh * hd, kvh * hd}
	types := []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K}
	for _, rd := range []int{hd, 16} {
		for _, neox := range []bool{false, true} {
			for _, plain := range []bool{false, true} {
				for _, rows := range []int{2, 4, 8} {
					t.Run(fmt.Sprintf("rd=%d/neox=%v/plain=%v/rows=%d", rd, neox, plain, rows), func(t *testing.T) {
						forActs(t, func(t *testing.T, h *harness) {
							a := h.elem()
							xb, _ := h.act(h.randn(T*K, 1))
							gb, _ := h.weight(gguf.TypeF32, 1, K, 1)
							vars := h.vars(pos)
							bind := Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb), "vars": backend.Buf(vars)}
							for o := range N {
								wb, _ := h.weight(types[o], N[o], K, 0.1)
								bb, _ := h.weight(gguf.TypeF32, 1, N[o], 1)
								bind[fmt.Sprint("w", o)], bind[fmt.Sprint("b", o)] = backend.Buf(wb), backend.Buf(bb)
							}
							pro := []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}}
							epi := []Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32, gguf.TypeF32}}}
							rope := &GemvRope{NeoX: neox, Dim: rd, HeadDim: hd, Base: 10000, Plain: plain}

							// Fused: q_rope, k_rope at pos, v at pos.
							fq, fk, fv := h.zeros(T*N[0], a), h.zeros((pos+T)*N[1], a), h.zeros((pos+T)*N[2], a)
							fused, err := Compose("qkv_rope", pro, &Gemv{Types: types, K: K, N: N, In: a, Out: a, Rows: rows,
								AtPos: []bool{false, true, true}, Rope: rope}, epi)
							if err != nil {
								t.Fatal(err)
							}
							fb := copyBinding(bind)
							fb["y0"], fb["y1"], fb["y2"] = backend.Buf(fq), backend.Buf(fk), backend.Buf(fv)
							h.run(fused, T, fb)

							// Unfused: q, k, v; then RoPE q into q_rope and k into its cache rows.
							uq, uk, uv := h.zeros(T*N[0], a), h.zeros(T*N[1], a), h.zeros((pos+T)*N[2], a)
							qkv, err := Compose("qkv", pro, &Gemv{Types: types, K: K, N: N, In: a, Out: a, AtPos: []bool{false, false, true}}, epi)
							if err != nil {
								t.Fatal(err)
							}
							ub := copyBinding(bind)
							ub["y0"], ub["y1"], ub["y2"] = backend.Buf(uq), backend.Buf(uk), backend.Buf(uv)
							h.run(qkv, T, ub)
							rq, rk := h.zeros(T*N[0], a), h.zeros((pos+T)*N[1], a)
							for _, c := range []struct {
								in, out backend.Buffer
								heads   int
								offset  bool
							}{{uq, rq, heads, false}, {uk, rk, kvh, true}} {
								k, err := Compose("rope", []Prologue{&Rope{NeoX: neox, Dim: rd, Base: 10000, Plain: plain}},
									&Copy{N: hd, Segs: c.heads, SrcStride: c.heads * hd, DstStride: c.heads * hd, In: a, Out: a, Offset: c.offset}, nil)
								if err != nil {
									t.Fatal(err)
								}
								h.run(k, T, Binding{"x": backend.Buf(c.in), "y": backend.Buf(c.out), "vars": backend.Buf(vars)})
							}
							for _, c := range []struct {
								name      string
								got, want backend.Buffer
								n         int
							}{{"q_rope", fq, rq, T * N[0]}, {"k cache", fk, rk, (pos + T) * N[1]}, {"v cache", fv, uv, (pos + T) * N[2]}} {
								got, want := h.read(c.got, c.n, a), h.read(c.want, c.n, a)
								for i := range want {
									if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
										t.Fatalf("%s[%d]: fused %v, unfused %v", c.name, i, got[i], want[i])
									}
								}
							}
						})
					})
				}
			}
		}
	}
}

func copyBinding(b Binding) Binding {
	out := Binding{}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestGemvRopeChecks: the configurations RoPE cannot fuse into.
func TestGemvRopeChecks(t *testing.T) {
	r := func(rd, hd int) *GemvRope { return &GemvRope{Dim: rd, HeadDim: hd, Base: 10000} }
	ty := []gguf.Type{gguf.TypeF32, gguf.TypeF32}
	for _, c := range []struct {
		g    *Gemv
		want string
	}{
		{&Gemv{Types: ty, K: 32, N: []int{64, 64}, Tiled: true, Rope: r(32, 32)}, "GEMV form only"},
		{&Gemv{Types: ty[:1], K: 32, N: []int{64}, Rope: r(32, 32)}, "outputs 0 and 1"},
		{&Gemv{Types: ty, K: 32, N: []int{64, 64}, Rope: r(48, 32)}, "rope_dim ≤ head_dim"},
		{&Gemv{Types: ty, K: 32, N: []int{64, 48}, Rope: r(32, 32)}, "not whole heads"},
		{&Gemv{Types: ty, K: 32, N: []int{64, 64}, Rows: 3, Rope: r(32, 32)}, "even number of rows"},
	} {
		if err := c.g.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.g, err, c.want)
		}
	}
}
