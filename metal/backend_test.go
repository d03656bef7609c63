package metal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The backend's own behaviour against the fake runtime (no GPU): what it
// asks of Metal and how it reports what Metal answers. fakeBackend fails
// every test on an Objective-C protocol violation and on leaked objects.

// loadMatMul loads an F16 matmul and returns its buffers.
func loadMatMul(t *testing.T, b *Backend) (backend.Kernel, backend.Buffer, backend.Buffer, backend.Buffer) {
	t.Helper()
	k, err := b.Load(backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeF16})
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.Wrap(make([]byte, 64*16*2))
	if err != nil {
		t.Fatal(err)
	}
	return k, mustAlloc(t, b, 4*16*3), mustAlloc(t, b, 4*64*3), w
}

// TestCommandBuffer: one command buffer per Commit, however many
// dispatches; the bindings Metal receives are the arguments as the kernel
// declares them, the scalars packed in its argument struct with al.
func TestCommandBuffer(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	k, out, x, w := loadMatMul(t, b)
	var cbs []*fcmdbuf
	enc := b.Begin()
	for range 10 {
		enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.BufAt(x, 4), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3))
	}
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, o := range f.objs {
		if cb, ok := o.v.(*fcmdbuf); ok {
			cbs = append(cbs, cb)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if f.count("commandBuffer") != 1 || f.count("commit") != 1 || len(cbs) != 1 || len(cbs[0].dispatches) != 10 {
		t.Fatalf("%d command buffers, %d commits, sent %v", f.count("commandBuffer"), f.count("commit"), f.sent)
	}
	// The pipeline is set once, the bindings every dispatch.
	if f.count("setComputePipelineState:") != 1 || f.count("setBuffer:offset:atIndex:") != 30 || f.count("setBytes:length:atIndex:") != 10 {
		t.Errorf("sent %d setComputePipelineState, %d setBuffer, %d setBytes", f.count("setComputePipelineState:"), f.count("setBuffer:offset:atIndex:"), f.count("setBytes:length:atIndex:"))
	}
	d := cbs[0].dispatches[0]
	if d.binds[1].off != 4 || d.binds[0].buf.ptr != out.(*buffer).ptr || d.binds[2].buf.ptr != w.(*buffer).ptr {
		t.Errorf("buffer bindings %+v", d.binds)
	}
	want := make([]byte, 16)
	for i, v := range []uint32{64, 16, 3, 4 << 4} { // K, N, T, al: x at address ≡ 4 (mod 16)
		binary.LittleEndian.PutUint32(want[4*i:], v)
	}
	if !bytes.Equal(d.binds[3].bytes, want) {
		t.Errorf("argument struct % x, want % x", d.binds[3].bytes, want)
	}
	if d.grid != (mtlSize{2, 1, 1}) || d.threads != (mtlSize{128, 1, 1}) {
		t.Errorf("launch grid %v threads %v, want (2,1,1) threadgroups of 128 (T = 3: the GEMM, 8 rows and 8 tokens each)", d.grid, d.threads)
	}
	// An empty batch reaches no command buffer; an empty grid no dispatch.
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(0), backend.Int(3))
	if err := enc.Commit(); err != nil || f.count("commandBuffer") != 1 {
		t.Errorf("an empty grid: %v, %d command buffers", err, f.count("commandBuffer"))
	}
}

func TestDispatchErrors(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	k, out, x, w := loadMatMul(t, b)
	other := fakeBackend(t, newFakeRT())
	ko, _, _, _ := loadMatMul(t, other)
	freed := mustAlloc(t, b, 64)
	b.Free(freed)
	ok := []backend.Arg{backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3)}
	with := func(i int, a backend.Arg) []backend.Arg {
		c := append([]backend.Arg(nil), ok...)
		c[i] = a
		return c
	}
	for _, c := range []struct {
		name string
		k    backend.Kernel
		g    backend.Grid
		args []backend.Arg
		want string
	}{
		{"arity", k, backend.Grid{X: 16}, ok[:5], `takes arguments "bbbiii" (b buffer, i int, f float), got "bbbii"`},
		{"kinds", k, backend.Grid{X: 16}, with(3, backend.Float(64)), `got "bbbfii"`},
		{"misaligned x", k, backend.Grid{X: 16}, with(1, backend.BufAt(x, 2)), "argument 1 (x, device const float*): offset 2 is not a multiple of 4"},
		{"misaligned weight", k, backend.Grid{X: 16}, with(2, backend.BufAt(w, 1)), "argument 2 (w, device const uchar*): offset 1 is not a multiple of 2"},
		{"offset outside", k, backend.Grid{X: 16}, with(0, backend.BufAt(out, 1000)), "argument 0: offset 1000 outside a 192-byte buffer"},
		{"int overflow", k, backend.Grid{X: 16}, with(3, backend.Int(1<<40)), "does not fit a 32-bit int"},
		{"freed", k, backend.Grid{X: 16}, with(0, backend.Buf(freed)), "argument 0: buffer was freed"},
		{"foreign kernel", ko, backend.Grid{X: 16}, ok, "was loaded by another metal backend"},
		{"negative grid", k, backend.Grid{X: -1}, ok, "negative grid"},
		{"grid over Metal's limit", k, backend.Grid{X: 16}, with(5, backend.Int(9<<20)), "grid [2 1179648 1] of threadgroups outside Metal's limits"},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := b.Begin()
			enc.Dispatch(c.k, c.g, c.args...)
			enc.Dispatch(k, backend.Grid{X: 16}, ok...) // not reached: the first error sticks
			err := enc.Commit()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Commit: %v, want an error containing %q", err, c.want)
			}
			if serr := b.Sync(); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Sync after a failed Commit: %v, want the Commit's error", serr)
			}
		})
	}
	if f.count("commandBuffer") != 0 {
		t.Errorf("a failed recording reached Metal: %v", f.sent)
	}
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, ok...)
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	enc.Dispatch(k, backend.Grid{X: 16}, ok...)
	if err := enc.Commit(); err == nil || !strings.Contains(err.Error(), "Commit twice") {
		t.Errorf("second Commit: %v", err)
	}
	// A buffer freed between Dispatch and Commit.
	y := mustAlloc(t, b, 192)
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, with(0, backend.Buf(y))...)
	b.Free(y)
	if err := enc.Commit(); err == nil || !strings.Contains(err.Error(), "uses a buffer freed after its Dispatch") {
		t.Errorf("freed before Commit: %v", err)
	}
	b.Sync()
}

func TestLoadErrors(t *testing.T) {
	composed := func(src string, threads, shared int) backend.KernelSpec {
		return backend.KernelSpec{Name: "k", MSL: src, Entry: "k", Threads: threads, SharedBytes: shared}
	}
	const ok = "kernel void k(device float* y [[buffer(0)]], constant int& n [[buffer(1)]], uint3 tg [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {}"
	const tg = "kernel void k(device float* y [[buffer(0)]], threadgroup float* s [[threadgroup(0)]], uint tid [[thread_index_in_threadgroup]]) {}"
	for _, c := range []struct {
		name string
		set  func(*fakeRT)
		spec backend.KernelSpec
		want string
	}{
		{"compile error", func(f *fakeRT) {
			f.compileLog = "program_source:12:5: error: use of undeclared identifier 'x'\n    x = 1;\n    ^"
		},
			backend.KernelSpec{Name: backend.OpAdd},
			"metal: kernel add[F32 f32→f32 kv f32] (entry add_f32_f32): newLibraryWithSource:options:error: failed:\nprogram_source:12:5: error: use of undeclared identifier 'x'\n    x = 1;\n    ^ (MTLLibraryErrorDomain 3)"},
		{"pipeline error", func(f *fakeRT) { f.failPipe = "Compiler encountered an internal error" },
			backend.KernelSpec{Name: backend.OpAdd}, "newComputePipelineStateWithFunction:error: failed:\nCompiler encountered an internal error (AGXMetalErrorDomain 1)"},
		{"SIMD width", func(f *fakeRT) { f.width = 64 }, backend.KernelSpec{Name: backend.OpAdd}, "threadExecutionWidth) is 64; metallic's kernels need 32"},
		{"register-limited pipeline", func(f *fakeRT) { f.maxThreads = 96 }, backend.KernelSpec{Name: backend.OpMatMul},
			"128 threads per threadgroup, but the compiled pipeline allows at most 96"},
		{"matmul_q", nil, backend.KernelSpec{Name: backend.OpMatMulQ}, "metal implements \"plain\" only"},
		{"ggml-cpu", nil, backend.KernelSpec{Name: backend.OpAdd, Numerics: backend.GGMLCPU}, `numerics profile "ggml-cpu" is not implemented`},
		{"CUDA only", nil, backend.KernelSpec{Name: "k", CUDA: "x", Entry: "k", Threads: 32}, `kernel "k" has no MSL source`},
		{"no entry", nil, backend.KernelSpec{Name: "k", MSL: ok, Threads: 32}, "no entry function"},
		{"threads", nil, composed(ok, 2048, 0), "2048 threads per threadgroup (want 1…1024)"},
		{"entry missing", nil, backend.KernelSpec{Name: "k", MSL: ok, Entry: "j", Threads: 32}, `no kernel function "j"`},
		{"untyped parameter", nil, composed("kernel void k(device float* y [[buffer(0)]], int n) {}", 32, 0), `parameter "int n" has no attribute`},
		{"value parameter", nil, composed("kernel void k(device float* y [[buffer(0)]], int n [[buffer(1)]]) {}", 32, 0), "want a device or constant pointer, or a constant reference"},
		{"gap", nil, composed("kernel void k(device float* y [[buffer(1)]]) {}", 32, 0), "indices are not 0…0 (0 is missing)"},
		{"struct by value", nil, composed("kernel void k(constant P& p [[buffer(0)]]) {}", 32, 0), "a dispatch passes buffers, ints and floats only"},
		{"threadgroup memory missing", nil, composed(tg, 32, 0), "takes [[threadgroup(0)]] memory but the spec asks for 0 bytes"},
		{"threadgroup memory unused", nil, composed(ok, 32, 64), "the kernel takes no [[threadgroup(0)]] argument"},
		{"threadgroup memory over the limit", nil, composed(tg, 32, 40<<10), "exceed Fake Apple M0's maxThreadgroupMemoryLength of 32768"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRT()
			if c.set != nil {
				c.set(f)
			}
			b := fakeBackend(t, f)
			_, err := b.Load(c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, c.want)
			}
			var ce *CompileError
			if strings.Contains(c.want, "failed:") && (!errors.As(err, &ce) || ce.Log == "") {
				t.Errorf("a compile failure is not a *CompileError with its log: %T", err)
			}
		})
	}
	// A composed kernel loads and runs with its arguments at their own
	// indices, the scalars by setBytes.
	f := newFakeRT()
	b := fakeBackend(t, f)
	k, err := b.Load(composed(ok, 64, 0))
	if err != nil {
		t.Fatal(err)
	}
	y := mustAlloc(t, b, 64)
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 3, Y: 2}, backend.Buf(y), backend.Int(-5))
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 3}, backend.Buf(y), backend.Float(1))
	if err := enc.Commit(); err == nil || !strings.Contains(err.Error(), `takes arguments "bi"`) {
		t.Errorf("a float where the kernel takes constant int&: %v", err)
	}
	b.Sync()
	// Identical sources share one pipeline.
	if _, err := b.Load(composed(ok, 32, 0)); err != nil || f.count("newLibraryWithSource:options:error:") != 1 {
		t.Errorf("reloading: %v, %d compiles", err, f.count("newLibraryWithSource:options:error:"))
	}
}

// TestCommandBufferErrors: a command buffer that ends in error is Sync's
// error, naming Metal's NSError and the command buffer's dispatches; the
// error is reported once. Under METALLIC_METAL_SYNC=1 every dispatch is
// its own command buffer, waited for, so the error names that dispatch.
func TestCommandBufferErrors(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	k, out, x, w := loadMatMul(t, b)
	add, err := b.Load(backend.KernelSpec{Name: backend.OpAdd})
	if err != nil {
		t.Fatal(err)
	}
	f.gpuError = "Caused GPU Address Fault Error (0000000b:kIOGPUCommandBufferCallbackErrorPageFault)"
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3))
	enc.Dispatch(add, backend.Grid{X: 3}, backend.Buf(x), backend.Buf(x), backend.Buf(x), backend.Int(64))
	if err := enc.Commit(); err != nil {
		t.Fatalf("Commit: %v (the error is the GPU's, known at Sync)", err)
	}
	err = b.Sync()
	var ge *GPUError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "Caused GPU Address Fault Error") || !strings.Contains(err.Error(), "MTLCommandBufferErrorDomain 2") ||
		!strings.Contains(err.Error(), "command buffer of 2 dispatch(es): matmul[F16 f32→f32 kv f32], add[F32 f32→f32 kv f32]") || !strings.Contains(err.Error(), EnvSync+"=1") {
		t.Fatalf("Sync: %v", err)
	}
	if err := b.Sync(); err != nil {
		t.Errorf("the error was reported twice: %v", err)
	}

	f = newFakeRT()
	b = fakeBackend(t, f, config{sync: true, timeout: time.Second})
	k, out, x, w = loadMatMul(t, b)
	f.gpuError = "boom"
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3))
	enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3))
	err = enc.Commit()
	if err == nil || !strings.Contains(err.Error(), "command buffer of 1 dispatch(es): matmul") || strings.Contains(err.Error(), EnvSync) {
		t.Fatalf("Commit under sync: %v", err)
	}
	if f.count("commandBuffer") != 1 {
		t.Errorf("the dispatch after the failing one was committed: %d command buffers", f.count("commandBuffer"))
	}
	b.Sync()
}

// TestWaitTimeout: a GPU that never finishes is a timeout error naming
// the variable that bounds it and the work in flight, never a hang.
func TestWaitTimeout(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f, config{timeout: 30 * time.Millisecond})
	k, out, x, w := loadMatMul(t, b)
	f.hang = true
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(3))
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := b.Download(make([]byte, 4), out, 0)
	if err == nil || !strings.Contains(err.Error(), "the GPU is still busy after 30ms ("+EnvTimeout+" bounds every wait)") ||
		!strings.Contains(err.Error(), "command buffer of 1 dispatch(es): matmul") {
		t.Fatalf("Download: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the wait took %v", time.Since(start))
	}
	if err := b.Close(); err == nil || !isTimeout(err) {
		t.Errorf("Close with work hung: %v, want the timeout", err)
	}
}

func TestProfile(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	k, out, x, w := loadMatMul(t, b)
	if _, err := b.Profile(); err == nil {
		t.Errorf("Profile with profiling off succeeded")
	}
	if err := b.SetProfiling(true); err != nil {
		t.Fatal(err)
	}
	enc := b.Begin()
	for _, T := range []int{1, 3} {
		enc.Dispatch(k, backend.Grid{X: 16}, backend.Buf(out), backend.Buf(x), backend.Buf(w), backend.Int(64), backend.Int(16), backend.Int(T))
	}
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	ts, err := b.Profile()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || f.count("commandBuffer") != 2 || ts[0].Kernel != "matmul[F16 f32→f32 kv f32]" || ts[0].Grid != [3]int{4, 1, 1} ||
		ts[1].Grid != [3]int{2, 1, 1} || ts[0].Threads != 128 || math.Abs(ts[0].Ms-0.5) > 1e-9 {
		t.Errorf("profile %+v", ts)
	}
	if err := b.SetProfiling(false); err != nil {
		t.Fatal(err)
	}
	if ts, err := b.Profile(); err == nil {
		t.Errorf("Profile after profiling off: %v", ts)
	}
}

// TestClosed: every method of a closed backend fails clearly; Close is
// idempotent.
func TestClosed(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	x := mustAlloc(t, b, 8)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, err := range []error{allocErr(b, 8), b.Upload(x, 0, []byte{1}), b.Download(make([]byte, 1), x, 0), b.Sync(), b.Begin().Commit(),
		func() error { _, err := b.Load(backend.KernelSpec{Name: backend.OpAdd}); return err }(),
		func() error { _, err := b.Wrap([]byte{1}); return err }()} {
		if err == nil || !strings.Contains(err.Error(), "closed backend") {
			t.Errorf("after Close: %v", err)
		}
	}
}
