package cuda

import (
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// BenchmarkRecordReplay measures the host cost of a decode-sized batch
// (300 dispatches) recorded, keyed and replayed as a graph, on the fake
// driver (no GPU work): the Go side's share of a decode step.
func BenchmarkRecordReplay(b *testing.B) {
	be, d, _ := fakeBackend(&testing.T{}, testConfig(nil))
	d.kernels["axpy"].run = func(*fakeDriver, fakeLaunch) error { return nil } // measure the backend, not the fake
	k, err := be.Load(specAxpy())
	if err != nil {
		b.Fatal(err)
	}
	y, _ := be.Alloc(64)
	x, _ := be.Alloc(64)
	for b.Loop() {
		e := be.Begin()
		for i := range 300 {
			e.Dispatch(k, backend.Grid{X: 1 + i%7}, backend.Buf(y), backend.Buf(x), backend.Int(0), backend.Float(1))
		}
		if err := e.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	if s := be.GraphStats(); s.Replayed == 0 && b.N > 2 {
		b.Fatalf("no replay: %+v", s)
	}
}
