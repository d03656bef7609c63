package cpu

import (
	"sync"
	"sync/atomic"

	"github.com/metallic-go/metallic/backend"
)

// The package keeps one pool of helper goroutines for every cpu backend:
// a dispatch hands its task to as many helpers as it wants workers (less
// one: the dispatching goroutine works too), so no goroutine is started
// and nothing is allocated per dispatch. A helper busy elsewhere only
// delays the dispatch: the caller takes the items nobody else took.

// task is one dispatch split into chunks of items taken from next.
type task struct {
	k     *kernel
	p     *prepared
	args  []backend.Arg
	g     backend.Grid
	n     int // items
	chunk int // items per take
	next  atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

// work takes chunks until the items run out or a chunk fails.
func (t *task) work() {
	for {
		lo := int(t.next.Add(int64(t.chunk))) - t.chunk
		if lo >= t.n {
			return
		}
		if err := call(t.k, backend.CPUCall{Args: t.args, Grid: t.g, Lo: lo, Hi: min(lo+t.chunk, t.n)}, t.p); err != nil {
			t.mu.Lock()
			t.errs = append(t.errs, err)
			t.mu.Unlock()
			t.next.Store(int64(t.n)) // stop handing out items
			return
		}
	}
}

var (
	work      = make(chan *task, 256)
	poolMu    sync.Mutex
	poolCount int
)

// startHelpers makes sure at least n helpers are running.
func startHelpers(n int) {
	poolMu.Lock()
	defer poolMu.Unlock()
	for ; poolCount < n; poolCount++ {
		go func() {
			for t := range work {
				t.work()
				t.wg.Done()
			}
		}()
	}
}
