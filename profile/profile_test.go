package profile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/cuda"
	_ "github.com/metallic-go/metallic/dsl"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/fakegpu"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/reference"
)

// TestBuiltinBytes checks the byte estimate of each built-in op against a
// hand count from backend/ops.go's argument lists.
func TestBuiltinBytes(t *testing.T) {
	r := NewRecorder()
	r.Mark(9, 1) // 9 cached positions before the call
	buf := func(n int) backend.Arg { return backend.Buf(fakeBuf(n)) }
	for _, tc := range []struct {
		spec backend.KernelSpec
		g    backend.Grid
		args []backend.Arg
		want float64
	}{
		// W Q8_0 [N=64, K=96]: 3 blocks of 34 bytes per row; x [1,96] f32; out [1,64] f16.
		{backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeQ8_0, Out: backend.F16}, backend.Grid{X: 64},
			[]backend.Arg{buf(128), buf(384), buf(64 * 102), backend.Int(96), backend.Int(64), backend.Int(1)}, 64*102 + 96*4 + 64*2},
		// embed 2 rows of d=8 from an F16 table: 2·8·4 out + 2·16 table + 2·4 ids.
		{backend.KernelSpec{Name: backend.OpEmbed, Weight: gguf.TypeF16}, backend.Grid{X: 2},
			[]backend.Arg{buf(64), buf(1024), buf(8), backend.Int(8)}, 64 + 32 + 8},
		// rmsnorm 3 rows of 16, F32 γ.
		{backend.KernelSpec{Name: backend.OpRMSNorm}, backend.Grid{X: 3},
			[]backend.Arg{buf(0), buf(0), buf(64), backend.Int(16), backend.Float(1e-5)}, 3*16*8 + 64},
		// attention: 1 query × 4 heads of hd 8, 2 kv heads, KV f16: q+out 4·8·8; K,V (9+1)·2·8·2 each.
		{backend.KernelSpec{Name: backend.OpAttention, KV: backend.F16}, backend.Grid{X: 4},
			[]backend.Arg{buf(0), buf(0), buf(0), buf(0), backend.Int(4), backend.Int(2), backend.Int(8), buf(4), backend.Float(0.35)}, 4*8*8 + 2*10*2*8*2},
		// copy 1 row of 16 into an f16 cache.
		{backend.KernelSpec{Name: backend.OpCopy, KV: backend.F16}, backend.Grid{X: 1},
			[]backend.Arg{buf(0), buf(0), backend.Int(16), buf(4)}, 16 * (4 + 2)},
		// swiglu 2 rows of 10: two inputs and one output.
		{backend.KernelSpec{Name: backend.OpSwiGLU}, backend.Grid{X: 2},
			[]backend.Arg{buf(0), buf(0), buf(0), backend.Int(10)}, 2 * 10 * 12},
	} {
		require.Equal(t, tc.want, r.bytes(tc.spec, tc.g, tc.args), tc.spec.Name)
	}
	// A composed kernel: each distinct buffer from its offset to its end.
	a, b := fakeBuf(100), fakeBuf(40)
	spec := backend.KernelSpec{Name: "gemv_x", CPU: func(backend.CPUCall) {}}
	require.Equal(t, 100.0+30, r.bytes(spec, backend.Grid{X: 1}, []backend.Arg{backend.Buf(a), backend.BufAt(b, 10), backend.Buf(a), backend.Int(3)}))
}

type fakeBuf int

func (b fakeBuf) Size() int { return int(b) }

// TestRunReference profiles the reference path on stories260K on the cpu:
// every projection is its own row with the calls a token makes, the bytes
// of the matmuls are their weights plus the activations, kernels are
// sorted slowest first and the gap is named.
func TestRunReference(t *testing.T) {
	m, err := model.Open(testenv.Stories(t))
	require.NoError(t, err)
	defer m.Close()
	rep, err := Run(Options{Model: m, Path: model.PathRef{Path: "reference", Backend: "cpu"}, PathOptions: model.PathOptions{Threads: 1},
		Prompt: testenv.StoriesPrompt(4), N: 3})
	require.NoError(t, err)
	require.Equal(t, TimerWall, rep.Timer)
	require.Equal(t, "reference@cpu", rep.Path)
	require.Equal(t, 4, rep.Position)
	require.True(t, strings.HasPrefix(rep.Provenance, "cpu: 1 thread"), rep.Provenance)
	calls := map[string]float64{}
	mm := 0.0
	for i, k := range rep.Kernels {
		calls[k.Kernel] = k.Calls
		if i > 0 {
			require.LessOrEqual(t, k.Ms, rep.Kernels[i-1].Ms, "sorted slowest first")
		}
		if k.Op == backend.OpMatMulQ {
			mm += k.Bytes
		}
	}
	// stories260K: 5 layers, d 64, kv 32, ff 172, vocab 512, F32 weights.
	c := m.Config
	require.Equal(t, 5, c.Layers)
	for label, n := range map[string]float64{
		"matmul_q F32 64×64 f32→f32": 10, "matmul_q F32 32×64 f32→f32": 10, "matmul_q F32 172×64 f32→f32": 10,
		"matmul_q F32 64×172 f32→f32": 5, "matmul_q F32 512×64 f32→f32": 1, "attention f32, KV f32": 5, "embed F32 f32→f32": 1,
	} {
		require.Equal(t, n, calls[label], label)
	}
	wantMM := 0.0
	for _, s := range [][2]float64{{64, 64}, {32, 64}, {32, 64}, {64, 64}, {172, 64}, {172, 64}, {64, 172}} { // N×K per layer
		wantMM += 5 * (s[0]*s[1]*4 + s[1]*4 + s[0]*4)
	}
	wantMM += 512*64*4 + 64*4 + 512*4
	require.Equal(t, wantMM, mm, "matmul bytes per token: weights + activations")
	require.Greater(t, rep.KernelMs, 0.0)
	require.InDelta(t, rep.TokenMs-rep.KernelMs, rep.GapMs, 1e-9)
	require.Contains(t, rep.Gap, "host work outside the kernels")
	var out strings.Builder
	require.NoError(t, Print(&out, rep))
	require.Contains(t, out.String(), "matmul_q F32 512×64 f32→f32")
	require.Contains(t, out.String(), " ms/token (")
	require.Contains(t, out.String(), "gap: host work")
}

// TestRunEvents profiles the dsl path on a backend with its own timer
// (the fake GPU's SetProfiling/Profile, as cuda's): its launches are
// matched to the dispatches one by one.
func TestRunEvents(t *testing.T) {
	fakegpu.Register("fake")
	m, err := model.Open(testenv.Stories(t))
	require.NoError(t, err)
	defer m.Close()
	rep, err := Run(Options{Model: m, Path: model.PathRef{Path: "dsl", Backend: "fake"}, Prompt: testenv.StoriesPrompt(3), N: 2})
	require.NoError(t, err)
	require.Equal(t, TimerEvents, rep.Timer)
	require.Equal(t, "plain", rep.Numerics)
	require.Contains(t, rep.Gap, "launch overhead and sync")
	require.NotEmpty(t, rep.Kernels)
	for _, k := range rep.Kernels {
		require.Equal(t, "composed", k.Op, k.Kernel)
		require.Greater(t, k.Bytes, 0.0, k.Kernel)
	}
	// The embed kernel reads one row of the table, not all 512.
	for _, k := range rep.Kernels {
		if strings.HasPrefix(k.Kernel, "embed") {
			require.Less(t, k.Bytes, float64(len(m.Weights.Embd.Data))/100, k.Kernel)
		}
	}
}

// TestStopMismatch: a backend timer that reports another number of
// launches than were dispatched is an error, never a misattributed table.
func TestStopMismatch(t *testing.T) {
	r := NewRecorder()
	st := &stubTimer{Backend: cpu.New(backend.Options{Threads: 1})}
	b := r.Wrap(st)
	require.NoError(t, r.Start())
	k, err := b.Load(backend.KernelSpec{Name: "noop", CPU: func(backend.CPUCall) {}})
	require.NoError(t, err)
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 1})
	enc.Dispatch(k, backend.Grid{X: 2})
	require.NoError(t, enc.Commit())
	st.times = []cuda.KernelTime{{Kernel: "noop", Ms: 1}}
	_, err = r.Stop()
	require.ErrorContains(t, err, "timed 1 launches for the 2 dispatches")
	require.NoError(t, r.Start())
	st.times = []cuda.KernelTime{{Ms: 1}, {Ms: 2}, {Ms: 3}}
	_, err = r.Stop()
	require.ErrorContains(t, err, "timed 3 launches for the 0 dispatches")
	require.NoError(t, r.Start())
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 1})
	enc.Dispatch(k, backend.Grid{X: 3})
	require.NoError(t, enc.Commit())
	st.times = []cuda.KernelTime{{Kernel: "noop", Ms: 1.5}, {Kernel: "other", Ms: 2.5}}
	_, err = r.Stop()
	require.ErrorContains(t, err, "launch 1 is other, but dispatch 1 was noop")
	require.NoError(t, r.Start())
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 1})
	enc.Dispatch(k, backend.Grid{X: 3})
	require.NoError(t, enc.Commit())
	st.times = []cuda.KernelTime{{Kernel: "noop[F32 f32→f32 kv f32]", Ms: 1.5}, {Ms: 2.5}}
	ds, err := r.Stop()
	require.NoError(t, err)
	require.Equal(t, []float64{1.5, 2.5}, []float64{ds[0].ms, ds[1].ms})
	require.Equal(t, fmt.Sprint([]string{"noop [1]", "noop [3]"}), fmt.Sprint([]string{ds[0].label, ds[1].label}))
	require.False(t, st.on, "profiling is switched off by Stop")
}

type stubTimer struct {
	backend.Backend
	on    bool
	times []cuda.KernelTime
}

func (s *stubTimer) SetProfiling(on bool) error { s.on = on; return nil }
func (s *stubTimer) Profile() ([]cuda.KernelTime, error) {
	t := s.times
	s.times = nil
	return t, nil
}
