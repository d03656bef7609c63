package cpu_test

import (
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/backend/cpu"
)

func TestConformance(t *testing.T) { backendtest.Run(t, cpu.New(backend.Options{})) }

// TestThreadsBitIdentical checks that every op's output bytes are the same
// with 1 and 2 worker threads, and with GOMAXPROCS 1 and 2.
func TestThreadsBitIdentical(t *testing.T) {
	one := backendtest.Fingerprint(cpu.New(backend.Options{Threads: 1}))
	two := backendtest.Fingerprint(cpu.New(backend.Options{Threads: 2}))
	if !slices.Equal(one, two) {
		t.Errorf("Threads=1 and Threads=2 differ: %x vs %x", one, two)
	}
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	g1 := backendtest.Fingerprint(cpu.New(backend.Options{}))
	runtime.GOMAXPROCS(2)
	g2 := backendtest.Fingerprint(cpu.New(backend.Options{}))
	if !slices.Equal(g1, g2) || !slices.Equal(g1, one) {
		t.Errorf("GOMAXPROCS=1 and GOMAXPROCS=2 differ")
	}
}

// TestDispatchSplits checks that a dispatch is really spread over workers
// (otherwise the bit-identity test above could not fail) and that every
// item is computed exactly once.
func TestDispatchSplits(t *testing.T) {
	b := cpu.New(backend.Options{Threads: 2})
	var calls atomic.Int32
	seen := make([]int32, 1000)
	k, err := b.Load(backend.KernelSpec{Name: "count", Grain: 1, CPU: func(c backend.CPUCall) {
		calls.Add(1)
		for i := c.Lo; i < c.Hi; i++ {
			atomic.AddInt32(&seen[i], 1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 10, Y: 100})
	if err := enc.Commit(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Errorf("%d calls: the dispatch was not split", calls.Load())
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d computed %d times", i, n)
		}
	}
}

// TestErrors checks that bad dispatches are errors, not panics.
func TestErrors(t *testing.T) {
	b := cpu.New(backend.Options{})
	if _, err := b.Load(backend.KernelSpec{Name: "nope"}); err == nil {
		t.Error("unknown op loaded")
	}
	if _, err := b.Load(backend.KernelSpec{Name: backend.OpMatMul, Weight: 16}); err == nil {
		t.Error("matmul on IQ2_XXS loaded")
	}
	if _, err := b.Load(backend.KernelSpec{Name: "msl-only", MSL: "kernel void f() {}"}); err == nil {
		t.Error("kernel without a CPU implementation loaded")
	}
	k, err := b.Load(backend.KernelSpec{Name: backend.OpAdd})
	if err != nil {
		t.Fatal(err)
	}
	small, _ := b.Alloc(8)
	enc := b.Begin()
	enc.Dispatch(k, backend.Grid{X: 4}, backend.Buf(small), backend.Buf(small), backend.Buf(small), backend.Int(100))
	if err := enc.Commit(); err == nil {
		t.Error("out-of-range add did not fail")
	}
	if err := b.Sync(); err == nil {
		t.Error("Sync did not report the failed encoder")
	}
	enc = b.Begin()
	enc.Dispatch(k, backend.Grid{X: 4}, backend.Buf(small), backend.Buf(small))
	if err := enc.Commit(); err == nil || !strings.Contains(err.Error(), `takes arguments "bbbi"`) {
		t.Errorf("add with two arguments: error %v", err)
	}
	b.Sync()
	w, _ := b.Wrap([]byte{1, 2, 3, 4})
	if err := b.Upload(w, 0, []byte{0}); err == nil {
		t.Error("upload into a wrapped buffer succeeded")
	}
	if err := b.Download(make([]byte, 9), small, 0); err == nil {
		t.Error("download past the end succeeded")
	}
}
