package cpu_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/backend/ggmlnum"
	"github.com/metallic-go/metallic/gguf"
)

// TestFlashAttentionShape: OpAttention's flash variant runs ggmlnum.Flash
// with the op shape llama.cpp gives it (backend.FlashAttn): the call's
// queries cut into ubatches of Batch (each with its own kernel), the KV
// length of each ubatch rounded up to 256, Threads llama.cpp threads, and
// an f32 cache rounded to f16 as it is read. The expected shapes are
// written out per case; the result does not depend on the backend's own
// thread count.
func TestFlashAttentionShape(t *testing.T) {
	const heads, kvh, hd, ctx = 4, 2, 16, 600
	type shape struct{ queries, cells int }
	cases := []struct {
		name          string
		T, pos0       int
		fa            backend.FlashAttn
		kv            backend.DType
		before, after shape // rows < split, rows ≥ split
		split         int
	}{
		{"prompt 70 in ubatches of 64", 70, 0, backend.FlashAttn{On: true, Batch: 64, Threads: 1}, backend.F16, shape{64, 256}, shape{6, 256}, 64},
		{"prompt across 256 cells", 30, 240, backend.FlashAttn{On: true, Batch: 512, Threads: 2}, backend.F32, shape{30, 512}, shape{30, 512}, 30},
		{"split decode", 1, 300, backend.FlashAttn{On: true, Batch: 512, Threads: 3}, backend.F16, shape{1, 512}, shape{1, 512}, 1},
		{"decode under 256 cells", 1, 17, backend.FlashAttn{On: true, Threads: 4}, backend.F32, shape{1, 256}, shape{1, 256}, 1},
	}
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := randRows(rng, c.T*heads*hd)
			k, v := randRows(rng, ctx*kvh*hd), randRows(rng, ctx*kvh*hd)
			var outs [][]float32
			for _, threads := range []int{1, 2} {
				outs = append(outs, runFlash(t, cpu.New(backend.Options{Threads: threads}), c.fa, c.kv, q, k, v, c.T, c.pos0))
			}
			for i := range outs[0] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
					t.Fatalf("value %d: %g with 1 backend thread, %g with 2", i, outs[0][i], outs[1][i])
				}
			}
			// Stored as f16, or stored as f32 and cast to f16 for the
			// kernel: either way it sees the values rounded to f16.
			kr, vr := f16Rows(k), f16Rows(v)
			want := make([]float32, hd)
			for tq := range c.T {
				s := c.before
				if tq >= c.split {
					s = c.after
				}
				f := ggmlnum.Flash{F16: true, Scale: 0.25, Queries: s.queries, Cells: s.cells, Threads: c.fa.Threads}
				for h := range heads {
					g := h / (heads / kvh)
					f.Row(want, q[(tq*heads+h)*hd:][:hd], c.pos0+tq+1,
						func(j int) []float32 { return kr[(j*kvh+g)*hd:][:hd] },
						func(j int) []float32 { return vr[(j*kvh+g)*hd:][:hd] })
					for d, w := range want {
						if got := outs[0][(tq*heads+h)*hd+d]; math.Float32bits(got) != math.Float32bits(w) {
							t.Fatalf("query %d head %d dim %d: %g, want %g (%+v)", tq, h, d, got, w, s)
						}
					}
				}
			}
		})
	}
}

// TestFlashAttentionNeedsGGMLCPU: the flash variant is ggml's kernel, so a
// plain (or unspecified) profile refuses it.
func TestFlashAttentionNeedsGGMLCPU(t *testing.T) {
	b := cpu.New(backend.Options{})
	for _, n := range []backend.Numerics{"", backend.Plain} {
		_, err := b.Load(backend.KernelSpec{Name: backend.OpAttention, Numerics: n, Flash: backend.FlashAttn{On: true}})
		if err == nil || !strings.Contains(err.Error(), "flash attention") {
			t.Errorf("numerics %q: Load of flash attention: err = %v, want a refusal", n, err)
		}
	}
}

// runFlash dispatches the flash variant over a KV cache of ctx rows (q at
// positions pos0…) and returns the output.
func runFlash(t *testing.T, b backend.Backend, fa backend.FlashAttn, kv backend.DType, q, k, v []float32, T, pos0 int) []float32 {
	t.Helper()
	const heads, kvh, hd = 4, 2, 16
	kern, err := b.Load(backend.KernelSpec{Name: backend.OpAttention, Numerics: backend.GGMLCPU, KV: kv, Flash: fa})
	if err != nil {
		t.Fatal(err)
	}
	up := func(x []float32, dt backend.DType) backend.Buffer {
		raw := make([]byte, len(x)*dt.Size())
		for i, f := range x {
			if dt == backend.F16 {
				binary.LittleEndian.PutUint16(raw[2*i:], gguf.F32ToF16(f))
			} else {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
			}
		}
		buf, err := b.Alloc(len(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(buf, 0, raw); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	qb, kb, vb, pb := up(q, backend.F32), up(k, kv), up(v, kv), up([]float32{math.Float32frombits(uint32(pos0))}, backend.F32)
	out, _ := b.Alloc(4 * T * heads * hd)
	enc := b.Begin()
	enc.Dispatch(kern, backend.Grid{X: T * heads}, backend.Buf(out), backend.Buf(qb), backend.Buf(kb), backend.Buf(vb),
		backend.Int(heads), backend.Int(kvh), backend.Int(hd), backend.Buf(pb), backend.Float(0.25))
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*T*heads*hd)
	if err := b.Download(raw, out, 0); err != nil {
		t.Fatal(err)
	}
	res := make([]float32, T*heads*hd)
	for i := range res {
		res[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return res
}

func randRows(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

func f16Rows(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = gguf.F16ToF32(gguf.F32ToF16(v))
	}
	return out
}
