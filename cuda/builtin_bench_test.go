package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
)

// BenchmarkBuiltin times each built-in kernel on the GPU (the cuda backend
// opened by name) at the shapes of a qwen2.5-0.5b forward: d 896, ff 4864,
// vocab 151936, 14/2 heads of 64; decode (T = 1) and a 64-token prompt.
// Each iteration records benchReps back-to-back dispatches in one encoder,
// commits and syncs, so the per-dispatch time includes the stream's launch
// overhead but not a CUDA graph's savings. Metrics: us/dispatch, and GB/s
// from the bytes the kernel must move (weights, activations, KV rows).
//
//	CGO_ENABLED=0 go test -c -o cuda.test ./cuda
//	./cuda.test -test.run '^$' -test.bench Builtin -test.benchtime 20x
func BenchmarkBuiltin(b *testing.B) {
	be, err := builtinGPU()
	if err != nil {
		if testenv.CUDARequired() {
			b.Fatalf("CUDA required (METALLIC_REQUIRE_CUDA=1) but unavailable: %v", err)
		}
		b.Skipf("CUDA unavailable: %v", err)
	}
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) { c.run(b, be) })
	}
}

const benchReps = 50

// benchCase is one kernel dispatch to time.
type benchCase struct {
	name  string
	spec  backend.KernelSpec
	grid  backend.Grid
	bytes int64 // bytes the kernel must move
	// args allocates the dispatch's buffers on be; bufs are freed after.
	args func(be backend.Backend, rng *rand.Rand) (args []backend.Arg, bufs []backend.Buffer, err error)
}

func benchCases() []benchCase {
	const d, ff, vocab, heads, kvh, hd = 896, 4864, 151936, 14, 2, 64
	const embedRows = 1024 // the ids are 0: a smaller table times the same
	var cs []benchCase
	act := func(dt backend.DType) string { return dt.String() }
	matmul := func(w gguf.Type, K, N, T int, dt backend.DType, what string) {
		rb, err := gguf.RowBytes(w, K)
		if err != nil {
			return // K not a multiple of the block size
		}
		cs = append(cs, benchCase{
			name:  fmt.Sprintf("matmul/%v/%s/K=%d,N=%d,T=%d/%s", w, what, K, N, T, act(dt)),
			spec:  backend.KernelSpec{Name: backend.OpMatMul, Weight: w, In: dt, Out: dt},
			grid:  backend.Grid{X: N},
			bytes: int64(rb)*int64(N) + int64(T*(K+N)*dt.Size()),
			args: func(be backend.Backend, rng *rand.Rand) ([]backend.Arg, []backend.Buffer, error) {
				bufs, err := benchBufs(be, rng, [][2]int{{T * K * dt.Size(), int(dt)}, {T * N * dt.Size(), -1}})
				if err != nil {
					return nil, nil, err
				}
				wb, err := be.Wrap(benchWeight(rng, w, rb*N))
				if err != nil {
					return nil, bufs, err
				}
				bufs = append(bufs, wb)
				return []backend.Arg{backend.Buf(bufs[1]), backend.Buf(bufs[0]), backend.Buf(wb), backend.Int(K), backend.Int(N), backend.Int(T)}, bufs, nil
			},
		})
	}
	for _, dt := range builtinDTypes {
		for _, w := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeF32, gguf.TypeBF16} {
			matmul(w, d, d, 1, dt, "q,o")
			matmul(w, d, kvh*hd, 1, dt, "k,v")
			matmul(w, d, ff, 1, dt, "gate,up")
			matmul(w, ff, d, 1, dt, "down")
			if w == gguf.TypeF16 || w == gguf.TypeQ8_0 || w == gguf.TypeQ4_0 {
				matmul(w, d, vocab, 1, dt, "lm_head")
			}
		}
		for _, w := range []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
			matmul(w, d, ff, 64, dt, "gate,up")
			matmul(w, ff, d, 64, dt, "down")
			matmul(w, d, d, 512, dt, "q,o")
		}
		row := func(op string, rows, n int, spec backend.KernelSpec, bytes int64, bufs [][2]int, mk func(b []backend.Buffer) []backend.Arg) {
			spec.Name, spec.In, spec.Out = op, dt, dt
			cs = append(cs, benchCase{
				name: fmt.Sprintf("%s/rows=%d,n=%d/%s", op, rows, n, act(dt)), spec: spec, grid: backend.Grid{X: rows}, bytes: bytes,
				args: func(be backend.Backend, rng *rand.Rand) ([]backend.Arg, []backend.Buffer, error) {
					b, err := benchBufs(be, rng, bufs)
					if err != nil {
						return nil, b, err
					}
					return mk(b), b, nil
				},
			})
		}
		s := int64(dt.Size())
		for _, T := range []int{1, 64} {
			row(backend.OpRMSNorm, T, d, backend.KernelSpec{}, int64(T*d)*2*s+4*d, [][2]int{{T * d * int(s), int(dt)}, {T * d * int(s), -1}, {4 * d, 0}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[1]), backend.Buf(b[0]), backend.Buf(b[2]), backend.Int(d), backend.Float(1e-6)}
				})
			row(backend.OpAdd, T, d, backend.KernelSpec{}, int64(T*d)*3*s, [][2]int{{T * d * int(s), int(dt)}, {T * d * int(s), int(dt)}, {T * d * int(s), -1}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[2]), backend.Buf(b[0]), backend.Buf(b[1]), backend.Int(d)}
				})
			row(backend.OpSwiGLU, T, ff, backend.KernelSpec{}, int64(T*ff)*3*s, [][2]int{{T * ff * int(s), int(dt)}, {T * ff * int(s), int(dt)}, {T * ff * int(s), -1}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[2]), backend.Buf(b[0]), backend.Buf(b[1]), backend.Int(ff)}
				})
			row(backend.OpAddBias, T, d, backend.KernelSpec{}, int64(T*d)*2*s+4*d, [][2]int{{T * d * int(s), int(dt)}, {4 * d, 0}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[0]), backend.Buf(b[0]), backend.Buf(b[1]), backend.Int(d)}
				})
			row(backend.OpCopy, T, kvh*hd, backend.KernelSpec{}, int64(T*kvh*hd)*2*s, [][2]int{{T * kvh * hd * int(s), int(dt)}, {(T + 200) * kvh * hd * int(s), -1}, {4, benchPosFill + 100}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[1]), backend.Buf(b[0]), backend.Int(kvh * hd), backend.Buf(b[2])}
				})
			row(backend.OpRope, T*heads, hd, backend.KernelSpec{}, int64(T*heads*hd)*2*s, [][2]int{{T * heads * hd * int(s), int(dt)}, {4, benchPosFill + 100}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[0]), backend.Buf(b[0]), backend.Int(heads), backend.Int(hd), backend.Int(hd), backend.Buf(b[1]),
						backend.Float(1e6), backend.Int(1)}
				})
			row(backend.OpEmbed, T, d, backend.KernelSpec{Weight: gguf.TypeF16}, int64(T*d)*(2+s), [][2]int{{T * d * int(s), -1}, {embedRows * d * 2, 'h'}, {4 * T, 'i'}},
				func(b []backend.Buffer) []backend.Arg {
					return []backend.Arg{backend.Buf(b[0]), backend.Buf(b[1]), backend.Buf(b[2]), backend.Int(d)}
				})
		}
		for _, ctx := range []int{64, 192, 1024, 4096} {
			for _, T := range []int{1, 64} {
				if T > ctx {
					continue
				}
				pos0 := ctx - T
				kvBytes := int64(ctx*kvh*hd) * 2 * s
				row(backend.OpAttention, T*heads, hd, backend.KernelSpec{KV: dt}, kvBytes+int64(T*heads*hd)*2*s,
					[][2]int{{T * heads * hd * int(s), int(dt)}, {ctx * kvh * hd * int(s), int(dt)}, {ctx * kvh * hd * int(s), int(dt)}, {T * heads * hd * int(s), -1}, {4, benchPosFill + pos0}},
					func(b []backend.Buffer) []backend.Arg {
						return []backend.Arg{backend.Buf(b[3]), backend.Buf(b[0]), backend.Buf(b[1]), backend.Buf(b[2]), backend.Int(heads), backend.Int(kvh),
							backend.Int(hd), backend.Buf(b[4]), backend.Float(0.125)}
					})
				cs[len(cs)-1].name = fmt.Sprintf("attention/T=%d,ctx=%d/%s", T, ctx, act(dt))
			}
		}
	}
	return cs
}

// benchPosFill + p as a benchBufs fill stores the int32 position p.
const benchPosFill = 1 << 24

// benchBufs allocates buffers of (bytes, fill): fill -1 leaves zeros, an
// activation dtype fills values in [-1, 1), benchPosFill + p stores the int32
// p, 'h' f16 values, 'i' zero ids.
func benchBufs(be backend.Backend, rng *rand.Rand, specs [][2]int) ([]backend.Buffer, error) {
	var bufs []backend.Buffer
	for _, s := range specs {
		buf, err := be.Alloc(s[0])
		if err != nil {
			return bufs, err
		}
		bufs = append(bufs, buf)
		data := make([]byte, s[0])
		switch {
		case s[1] == int(backend.F32):
			for i := 0; i+4 <= len(data); i += 4 {
				binary.LittleEndian.PutUint32(data[i:], benchF32(rng))
			}
		case s[1] == int(backend.F16) || s[1] == 'h':
			for i := 0; i+2 <= len(data); i += 2 {
				binary.LittleEndian.PutUint16(data[i:], benchF16[rng.IntN(len(benchF16))])
			}
		case s[1] >= benchPosFill:
			binary.LittleEndian.PutUint32(data, uint32(s[1]-benchPosFill))
		}
		if err := be.Upload(buf, 0, data); err != nil {
			return bufs, err
		}
	}
	return bufs, nil
}

var benchF16 = func() []uint16 {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]uint16, 4096)
	for i := range v {
		v[i] = gguf.F32ToF16(float32(2*rng.Float64() - 1))
	}
	return v
}()

func benchF32(rng *rand.Rand) uint32 {
	return math.Float32bits(gguf.F16ToF32(benchF16[rng.IntN(len(benchF16))]))
}

// benchWeight returns n bytes of weights for timing: a 1 MiB pattern of
// random finite f16 values, repeated (f16 words decode as finite scales,
// quants and F32/BF16 halves alike).
func benchWeight(rng *rand.Rand, _ gguf.Type, n int) []byte {
	pat := make([]byte, 1<<20)
	for i := 0; i < len(pat); i += 2 {
		binary.LittleEndian.PutUint16(pat[i:], benchF16[rng.IntN(len(benchF16))])
	}
	data := make([]byte, n)
	for i := 0; i < n; i += len(pat) {
		copy(data[i:], pat)
	}
	return data
}

func (c benchCase) run(b *testing.B, be backend.Backend) {
	rng := rand.New(rand.NewPCG(3, 4))
	args, bufs, err := c.args(be, rng)
	defer func() {
		for _, buf := range bufs {
			be.Free(buf)
		}
	}()
	if err != nil {
		b.Fatal(err)
	}
	k, err := be.Load(c.spec)
	if err != nil {
		b.Fatal(err)
	}
	dispatch := func(n int) {
		enc := be.Begin()
		for range n {
			enc.Dispatch(k, c.grid, args...)
		}
		if err := enc.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	dispatch(2) // compile, upload, warm up
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		dispatch(benchReps)
	}
	el := time.Since(start)
	per := el.Seconds() / float64(b.N*benchReps)
	b.ReportMetric(per*1e6, "us/dispatch")
	b.ReportMetric(float64(c.bytes)/per/1e9, "GB/s")
}
