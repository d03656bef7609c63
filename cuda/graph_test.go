package cuda

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/metallic-go/metallic/backend"
)

// decodeBatch records a decode-like batch of six launches whose only
// per-step input is the position in device memory.
func decodeBatch(b *Backend, axpy, addpos backend.Kernel, y, x, pos backend.Buffer, n int) error {
	e := b.Begin()
	for range 3 {
		e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(x), backend.Int(n), backend.Float(0.5))
		e.Dispatch(addpos, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(pos), backend.Int(n))
	}
	return e.Commit()
}

// runDecode runs steps decode batches on a fresh fake backend with graphs
// on or off and returns y after each step and the stats.
func runDecode(t *testing.T, graphs bool, steps int) ([][]float32, GraphStats, *fakeDriver) {
	b, d, _ := fakeBackend(t, testConfig(func(c *config) { c.graphs = graphs }))
	axpy, addpos := mustLoad(t, b, specAxpy()), mustLoad(t, b, specAddPos())
	const n = 8
	y := mustBuf(t, b, make([]float32, n))
	x := mustBuf(t, b, []float32{1, -2, 3, -4, 5, -6, 7, -8})
	pos, _ := b.Alloc(4)
	var outs [][]float32
	for p := range steps {
		if err := b.Upload(pos, 0, binary.LittleEndian.AppendUint32(nil, uint32(p))); err != nil {
			t.Fatal(err)
		}
		if err := decodeBatch(b, axpy, addpos, y, x, pos, n); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, download(t, b, y))
	}
	return outs, b.GraphStats(), d
}

func TestGraphReplay(t *testing.T) {
	const steps = 5
	plain, ps, _ := runDecode(t, false, steps)
	graphed, gs, d := runDecode(t, true, steps)
	for i := range plain {
		for j := range plain[i] {
			if math.Float32bits(plain[i][j]) != math.Float32bits(graphed[i][j]) {
				t.Fatalf("step %d: graphs %v, plain %v", i, graphed[i], plain[i])
			}
		}
	}
	if want := (GraphStats{Plain: steps}); ps != want {
		t.Errorf("graphs off: stats %+v, want %+v", ps, want)
	}
	if want := (GraphStats{Plain: 1, Captured: 1, Replayed: steps - 2}); gs != want {
		t.Errorf("graphs on: stats %+v, want %+v", gs, want)
	}
	// Step 1 launches 6 kernels, step 2 records 6 into the graph; the
	// others are one graph launch each.
	if d.calls["launch"] != 12 || d.calls["graphLaunch"] != steps-1 {
		t.Errorf("%d kernel launches and %d graph launches, want 12 and %d", d.calls["launch"], d.calls["graphLaunch"], steps-1)
	}
}

func TestGraphKeys(t *testing.T) {
	b, d, _ := fakeBackend(t, testConfig(nil))
	axpy := mustLoad(t, b, specAxpy())
	y, _ := b.Alloc(64)
	x, _ := b.Alloc(64)
	batch := func(launches int, a float32, off int) {
		t.Helper()
		e := b.Begin()
		for range launches {
			e.Dispatch(axpy, backend.Grid{X: 1}, backend.BufAt(y, off), backend.Buf(x), backend.Int(4), backend.Float(a))
		}
		if err := e.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		batch(3, 1, 0) // fewer than graphMin launches: always plain
	}
	if s := b.GraphStats(); s != (GraphStats{Plain: 3}) {
		t.Errorf("small batches: %+v, want 3 plain", s)
	}
	batch(4, 1, 0)
	batch(4, 2, 0) // a different scalar is a different batch
	batch(4, 1, 4) // so is a different offset
	if s := b.GraphStats(); s.Captured != 0 {
		t.Errorf("distinct batches were captured: %+v", s)
	}
	batch(4, 2, 0)
	batch(4, 2, 0)
	if s := b.GraphStats(); s.Captured != 1 || s.Replayed != 1 {
		t.Errorf("after the second and third occurrence: %+v, want 1 captured, 1 replayed", s)
	}

	t.Run("eviction", func(t *testing.T) {
		b, d, _ := fakeBackend(t, testConfig(func(c *config) { c.graphMax = 2 }))
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(64)
		rec := func(a float32) {
			e := b.Begin()
			for range 4 {
				e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(a))
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		rec(1)
		rec(1) // captured
		rec(2)
		rec(3) // evicts batch 1 and retires its graph
		if len(d.graphs) != 1 || len(b.graphs.retired) != 1 {
			t.Fatalf("%d graphs, %d retired; want 1 and 1", len(d.graphs), len(b.graphs.retired))
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		if len(d.graphs) != 0 || len(b.graphs.retired) != 0 {
			t.Errorf("after Sync: %d graphs, %d retired; want both 0", len(d.graphs), len(b.graphs.retired))
		}
		rec(1) // seen again from scratch: plain
		if s := b.GraphStats(); s.Plain != 4 || s.Captured != 1 {
			t.Errorf("stats %+v, want 4 plain and 1 captured", s)
		}
	})
	t.Run("capture failure", func(t *testing.T) {
		b, d, _ := fakeBackend(t, testConfig(nil))
		d.failCap = true
		axpy := mustLoad(t, b, specAxpy())
		y, _ := b.Alloc(64)
		for range 4 {
			e := b.Begin()
			for range 4 {
				e.Dispatch(axpy, backend.Grid{X: 1}, backend.Buf(y), backend.Buf(y), backend.Int(4), backend.Float(1))
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if s := b.GraphStats(); s != (GraphStats{Plain: 3, Failed: 1}) {
			t.Errorf("stats %+v, want 3 plain and 1 failed (tried once)", s)
		}
		if d.calls["launch"] != 16 {
			t.Errorf("%d launches, want 16: every batch still ran", d.calls["launch"])
		}
	})
	t.Run("driver without graphs", func(t *testing.T) {
		_, d2, _ := fakeBackend(t, nil)
		_ = d2
		b, d, _ := fakeBackend(t, testConfig(nil))
		d.noGraphs = errTest("libcuda lacks cuGraphInstantiateWithFlags")
		if p := b.Provenance(); p.Graphs != "off (libcuda lacks cuGraphInstantiateWithFlags)" {
			t.Errorf("Graphs = %q", p.Graphs)
		}
	})
	_ = d
}

type errTest string

func (e errTest) Error() string { return string(e) }
