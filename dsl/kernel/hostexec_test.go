package kernel

import (
	"fmt"
	"math"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// hostCase is one kernel run on the CPU backend and as CUDA on the host.
type hostCase struct {
	name string
	k    *Kernel
	rows int
	bind Binding
}

// TestGeneratedSourcesExecuteLikeCPU runs the generated CUDA and MSL
// sources of kernels covering every stage (threads, barriers, shuffles and
// shared memory emulated on the host) and compares every output with the
// fused CPU implementation: the GPU code computes what the CPU code
// computes, in both dialects.
func TestGeneratedSourcesExecuteLikeCPU(t *testing.T) {
	requireClang(t)
	var cases []hostCase
	for _, half := range []bool{false, true} {
		h := newHarness(t, half, 2)
		a := h.elem()
		add := func(name string, rows int, b Binding, pros []Prologue, main Main, epis []Epilogue) {
			k, err := Compose("k", pros, main, epis)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b["$tokens"] = backend.Int(rows)
			cases = append(cases, hostCase{name + "/" + a.msl, k, rows, b})
		}
		const K, T = 256, 3
		xb, _ := h.act(h.randn(16*K, 1))
		gb, _ := h.weight(gguf.TypeF32, 1, K, 1)
		for _, types := range [][]gguf.Type{{gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ8_0}, {gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ4_0}, {gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL}} {
			b := Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb)}
			N := []int{40, 16, 16}
			for i := range types {
				wb, _ := h.weight(types[i], N[i], K, 0.1)
				bb, _ := h.weight(gguf.TypeF32, 1, N[i], 1)
				b[[]string{"w0", "w1", "w2"}[i]], b[[]string{"b0", "b1", "b2"}[i]] = backend.Buf(wb), backend.Buf(bb)
				b[[]string{"y0", "y1", "y2"}[i]] = backend.Buf(h.zeros(16*N[i], a))
			}
			add("qkv "+types[0].String(), T, b, []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}},
				&Gemv{Types: types, K: K, N: N, In: a, Out: a, Tokens: 2},
				[]Epilogue{&Bias{Types: []gguf.Type{gguf.TypeF32, gguf.TypeF32, gguf.TypeF32}}})
		}
		w0, _ := h.weight(gguf.TypeQ8_0, 24, K, 0.1)
		w1, _ := h.weight(gguf.TypeF16, 24, K, 0.1)
		add("swiglu", T, Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb), "w0": backend.Buf(w0), "w1": backend.Buf(w1),
			"y0": backend.Buf(h.zeros(16*24, a))}, []Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-5}},
			&Gemv{Types: []gguf.Type{gguf.TypeQ8_0, gguf.TypeF16}, K: K, N: []int{24}, In: a, Out: a, Pair: true}, []Epilogue{SwiGLU{}})
		rb, _ := h.act(h.randn(16*24, 1))
		add("residual gelu", T, Binding{"x": backend.Buf(xb), "w0": backend.Buf(w0), "residual": backend.Buf(rb),
			"y0": backend.Buf(h.zeros(16*24, a))}, nil,
			&Gemv{Types: []gguf.Type{gguf.TypeQ8_0}, K: K, N: []int{24}, In: a, Out: a},
			[]Epilogue{&Residual{Alpha: 0.5, Beta: 1, Elem: a}, GELU{}})
		for _, ty := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_K} {
			w, _ := h.weight(ty, 8, K, 0.1)
			add("rounded "+ty.String(), T, Binding{"x": backend.Buf(xb), "w0": backend.Buf(w), "y0": backend.Buf(h.zeros(16*8, Float))}, nil,
				&Gemv{Types: []gguf.Type{ty}, K: K, N: []int{8}, In: a, Out: Float, Round: true}, nil)
		}
		for _, neox := range []bool{false, true} {
			for _, plain := range []bool{false, true} {
				pos := 5
				if plain {
					pos = 3001 // large angles: powf, sinf and cosf of the plain contract
				}
				add(fmt.Sprintf("rope plain=%v", plain), T, Binding{"x": backend.Buf(xb), "gamma": backend.Buf(gb),
					"y": backend.Buf(h.zeros((pos+T)*K, a)), "vars": backend.Buf(h.vars(pos))},
					[]Prologue{&RMSNorm{Gamma: gguf.TypeF32, Eps: 1e-6}, &Rope{NeoX: neox, Dim: 48, Base: 10000, Plain: plain}},
					&Copy{N: 64, Segs: 4, SrcStride: K, DstStride: K, In: a, Out: a, Offset: true}, nil)
			}
		}
		kc, _ := h.act(h.randn(16*64, 1))
		vc, _ := h.act(h.randn(16*64, 1))
		add("attention", T, Binding{"q": backend.Buf(xb), "k_cache": backend.Buf(kc), "v_cache": backend.Buf(vc),
			"y": backend.Buf(h.zeros(16*128, a)), "vars": backend.Buf(h.vars(4))}, nil,
			&Attention{Heads: 4, KVHeads: 2, HeadDim: 32, In: a, Cache: a, Out: a}, nil)
		// A long context (many keys per SIMD group) and head sizes that are
		// not a multiple of 32 (lanes holding fewer dimensions) or span
		// four lane dimensions.
		for _, hd := range []int{80, 128} {
			const heads, kv, pos, T = 6, 2, 203, 3
			q, _ := h.act(h.randn(T*heads*hd, 1))
			kc, _ := h.act(h.randn((pos+T)*kv*hd, 1))
			vc, _ := h.act(h.randn((pos+T)*kv*hd, 1))
			add(fmt.Sprint("attention hd=", hd), T, Binding{"q": backend.Buf(q), "k_cache": backend.Buf(kc), "v_cache": backend.Buf(vc),
				"y": backend.Buf(h.zeros(T*heads*hd, a)), "vars": backend.Buf(h.vars(pos))}, nil,
				&Attention{Heads: heads, KVHeads: kv, HeadDim: hd, In: a, Cache: a, Out: a}, nil)
		}
		tb, _ := h.weight(gguf.TypeQ4_K, 10, K, 1)
		add("embed", 4, Binding{"table": backend.Buf(tb), "ids": backend.Buf(h.ids([]int32{9, 0, 3, 9})), "y": backend.Buf(h.zeros(4*K, a))},
			[]Prologue{&Embed{Table: gguf.TypeQ4_K, K: K}}, &Copy{N: K, Segs: 1, DstStride: K, Out: a, Gathered: true}, nil)
		add("softmax", T, Binding{"x": backend.Buf(xb), "y": backend.Buf(h.zeros(16*K, a))}, nil,
			&Copy{N: 100, Segs: 1, SrcStride: K, DstStride: 100, In: a, Out: a, SIMD: true}, []Epilogue{&Softmax{}})
		for _, op := range []Op{OpAdd, OpMax, OpMin} {
			add("reduce", T, Binding{"x": backend.Buf(xb), "y": backend.Buf(h.zeros(16, Float))}, nil,
				&Copy{N: 200, Segs: 1, SrcStride: K, DstStride: 1, In: a, Out: Float}, []Epilogue{&Reduce{Op: op}})
		}
		for _, mode := range []CopyMode{CopyGather, CopyScatter} {
			add("move", T, Binding{"x": backend.Buf(xb), "index": backend.Buf(h.ids([]int32{2, 0, 1})), "y": backend.Buf(h.zeros(16*K, a))}, nil,
				&Copy{Mode: mode, N: K, Segs: 1, SrcStride: K, DstStride: K, In: a, Out: a}, nil)
		}
	}
	checkCases(t, cases)
}

// checkCases runs every case on the CPU backend and as CUDA and MSL on the
// host, and compares the outputs.
func checkCases(t *testing.T, cases []hostCase) {
	// Run on the CPU, keep its outputs, restore the outputs' initial bytes.
	cpuOut := make([]map[int][]byte, len(cases))
	var launches []hostLaunch
	h := newHarness(t, false, 2)
	for i, c := range cases {
		args, err := c.k.Bind(c.bind)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		init := map[int][]byte{}
		for _, a := range c.k.Args {
			if a.Kind == ArgBuffer && a.Output {
				init[a.Index] = append([]byte(nil), args[a.Index].Bytes()...)
			}
		}
		h.run(c.k, c.rows, c.bind)
		cpuOut[i] = map[int][]byte{}
		for idx, b := range init {
			cpuOut[i][idx] = append([]byte(nil), args[idx].Bytes()...)
			copy(args[idx].Bytes(), b)
		}
		launches = append(launches, hostLaunch{k: c.k, grid: c.k.Grid(c.rows), args: args})
	}
	for _, d := range []Dialect{CUDA, MSL} {
		compareHost(t, d, cases, cpuOut, runHost(t, d, launches))
	}
	t.Logf("%d kernels executed as CUDA and as MSL on the host", len(cases))
}

func compareHost(t *testing.T, d Dialect, cases []hostCase, cpuOut, gpuOut []map[int][]byte) {
	for i, c := range cases {
		for _, a := range c.k.Args {
			if a.Kind != ArgBuffer || !a.Output {
				continue
			}
			want, got := decode(cpuOut[i][a.Index], a.Elem), decode(gpuOut[i][a.Index], a.Elem)
			var rms float64
			for _, w := range want {
				rms += float64(w) * float64(w)
			}
			rms = math.Sqrt(rms / float64(len(want)))
			tol := 2e-5
			if a.Elem == Half {
				tol = 2e-3
			}
			for j := range want {
				if diff := math.Abs(float64(got[j] - want[j])); !(diff <= tol*rms+tol*math.Abs(float64(want[j]))) {
					t.Fatalf("%s (%s): %s[%d]: host %g, CPU %g", c.name, d, a.Name, j, got[j], want[j])
				}
			}
		}
	}
}

func decode(b []byte, elem Type) []float32 {
	size := 4
	if elem == Half {
		size = 2
	}
	out := make([]float32, len(b)/size)
	for i := range out {
		if elem == Half {
			out[i] = gguf.F16ToF32(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
		} else {
			out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
		}
	}
	return out
}
