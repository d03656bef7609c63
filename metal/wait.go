package metal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// timeoutError is a wait that ran out of time: the work is still in
// flight.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

func isTimeout(err error) bool {
	var te *timeoutError
	return errors.As(err, &te)
}

// wait blocks until every committed command buffer has finished, at most
// cfg.timeout, and returns the error met: the first failed command
// buffer's (also kept for Sync), or a timeout (not kept: the work is
// still in flight and the next wait waits for it again).
func (b *Backend) wait(op string) error {
	if b.closed {
		return fmt.Errorf("metal: %s on a closed backend", op)
	}
	if len(b.inflight) == 0 {
		return nil
	}
	err := b.dev.run(func() error { return b.poll(op) })
	if !isTimeout(err) {
		b.setErr(err)
	}
	return err
}

// poll waits for the command buffers in flight, in commit order, inside
// run: it polls their status continuously for the first few
// milliseconds, where a decode step ends, then sleeps with a growing
// interval, up to the timeout. A finished command buffer is released; the
// first that failed is the error.
func (b *Backend) poll(op string) error {
	const spin = 5 * time.Millisecond
	start := time.Now()
	sleep := 20 * time.Microsecond
	var first error
	for len(b.inflight) > 0 {
		bt := b.inflight[0]
		st := int(b.o.send(msgStatus, bt.cb))
		switch st {
		case statusCompleted, statusError:
			if st == statusError && first == nil {
				first = &GPUError{Status: st, Text: orUnknown(b.o.errorText(b.o.sendID(msgCommandBufferError, bt.cb))), Kernels: bt.describe()}
			}
			if bt.prof != nil && st == statusCompleted {
				t0, t1 := b.o.sendDouble(msgGPUStartTime, bt.cb), b.o.sendDouble(msgGPUEndTime, bt.cb)
				bt.prof.Ms = (t1 - t0) * 1e3
				b.prof.times = append(b.prof.times, *bt.prof)
			}
			b.o.release(bt.cb)
			b.inflight = b.inflight[1:]
			continue
		case statusNotEnqueued, statusEnqueued, statusCommitted, statusScheduled:
		default:
			return fmt.Errorf("metal: %s: a command buffer reports the unknown status %d", op, st)
		}
		elapsed := time.Since(start)
		if elapsed > b.cfg.timeout {
			return &timeoutError{fmt.Sprintf("metal: %s: the GPU is still busy after %v (%s bounds every wait): %d command buffer(s) in flight, the oldest %s; a kernel may be hung",
				op, b.cfg.timeout, EnvTimeout, len(b.inflight), bt.describe())}
		}
		if elapsed < spin {
			continue
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, time.Millisecond)
	}
	if first != nil && !b.cfg.sync {
		first = fmt.Errorf("%w (set %s=1 to name the failing dispatch)", first, EnvSync)
	}
	return first
}

// describe names what a command buffer holds, for an error message.
func (bt *batch) describe() string {
	const most = 8
	names := bt.labels
	more := ""
	if len(names) > most {
		names, more = names[:most], ", …"
	}
	return fmt.Sprintf("command buffer of %d dispatch(es): %s%s", bt.n, strings.Join(names, ", "), more)
}
