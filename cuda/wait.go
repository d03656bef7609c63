package cuda

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// flight is what was committed since the last completed wait: what an
// asynchronous error or a timeout is reported against.
type flight struct {
	launches, batches int
	names             []string // distinct kernel labels in commit order, at most maxNames
	more              bool     // names were left out
}

const maxNames = 12

func (f *flight) add(ls []launch) {
	if len(ls) == 0 {
		return
	}
	f.batches++
	f.launches += len(ls)
	for _, l := range ls {
		if f.has(l.k.label) {
			continue
		}
		if len(f.names) == maxNames {
			f.more = true
			continue
		}
		f.names = append(f.names, l.k.label)
	}
}

func (f *flight) has(name string) bool {
	for _, n := range f.names {
		if n == name {
			return true
		}
	}
	return false
}

func (f *flight) String() string {
	if f.launches == 0 {
		return "no kernel in flight"
	}
	s := fmt.Sprintf("%d launch(es) in %d batch(es) since the last wait (kernels: %s", f.launches, f.batches, strings.Join(f.names, ", "))
	if f.more {
		s += ", …"
	}
	return s + ")"
}

// kernel returns the one kernel label in flight, "" when there are several
// or none.
func (f *flight) kernel() string {
	if len(f.names) == 1 && !f.more {
		return f.names[0]
	}
	return ""
}

// wait blocks until the stream is idle, at most cfg.timeout, and returns
// the error met: the stream's first error with the kernels in flight (also
// kept for Sync), or a timeout (not kept: the work is still in flight and
// the next wait waits for it again). On success the graphs retired while
// work was in flight are destroyed.
func (b *Backend) wait(op string) error {
	if b.closed {
		return fmt.Errorf("cuda: %s on a closed backend", op)
	}
	err := b.drv.run(func() error {
		if err := b.poll(op); err != nil {
			return err
		}
		return b.graphs.reap(b.drv)
	})
	var te *timeoutError
	if !errors.As(err, &te) { // a timeout is not kept: the next wait waits again
		b.setErr(err)
	}
	return err
}

// timeoutError is a wait that ran out of time: the work is still in flight.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

func isTimeout(err error) bool {
	var te *timeoutError
	return errors.As(err, &te)
}

// poll waits for the stream inside run: it polls continuously for the
// first few milliseconds, where a decode step ends (as the driver's own
// spin-wait does), then sleeps with a growing interval, up to the timeout.
func (b *Backend) poll(op string) error {
	const spin = 5 * time.Millisecond
	start := time.Now()
	defer func() { b.waited += time.Since(start) }()
	sleep := 20 * time.Microsecond
	for {
		done, err := b.drv.query(b.stream)
		if err != nil {
			err = fmt.Errorf("cuda: %s: %w; %s", op, withKernel(err, b.inflight.kernel()), b.inflight.String())
			if !b.cfg.sync {
				err = fmt.Errorf("%w (set %s=1 to name the failing launch)", err, EnvSync)
			}
			b.inflight = flight{}
			return err
		}
		if done {
			b.inflight = flight{}
			return nil
		}
		elapsed := time.Since(start)
		if elapsed > b.cfg.timeout {
			return &timeoutError{fmt.Sprintf("cuda: %s: the GPU is still busy after %v (%s bounds every wait): %s; a kernel may be hung", op, b.cfg.timeout, EnvTimeout, b.inflight.String())}
		}
		if elapsed < spin {
			continue
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, time.Millisecond)
	}
}

// Waited returns the total time the host has spent waiting for the GPU
// (every Sync, Upload, Download and Free wait) since the backend was
// opened. Over a decode loop, elapsed time minus Waited is the host's own
// share of a step (recording, packing, copies, sampling): what a step
// costs beyond the GPU's work when the two do not overlap.
func (b *Backend) Waited() time.Duration { return b.waited }
