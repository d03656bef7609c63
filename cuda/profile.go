package cuda

import (
	"encoding/binary"
	"fmt"
)

// KernelTime is the GPU time of one launch measured in profiling mode.
type KernelTime struct {
	Kernel string  `json:"kernel"` // the kernel's name with its specialization
	Grid   [3]int  `json:"grid"`
	Block  [3]int  `json:"block"`
	Ms     float64 `json:"ms"` // from the event recorded before the launch to the one after it
}

// profiler brackets launches with CUDA events while on.
type profiler struct {
	on      bool
	pending []timing
	used    []handle // every event recorded since the last Profile, once
	pool    []handle // events free for reuse
	// hold is the hold kernel (holdSrc), launched before a profiled batch
	// so the GPU starts it only once every launch is queued; 0 when it
	// could not be loaded (holdErr says why).
	hold    handle
	holdErr string
}

// holdSrc keeps the GPU busy for us microseconds (%globaltimer, in ns).
// A profiled batch is queued behind it: without it the GPU, faster than
// the host that launches one kernel and one event at a time, would wait
// for each launch, and a short kernel's time would be the host's
// launch latency rather than its own.
const holdSrc = `extern "C" __global__ void metallic_profile_hold(int us) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while (t - t0 < (unsigned long long)us * 1000ull);
}
`

// holdMicros is how long the hold kernel runs before a batch of n
// launches: 20 µs of host time per launch and its event, at most 0.2 s.
func holdMicros(n int) int { return min(200+20*n, 200000) }

// ProfileHold says how profiled batches start: "" when the hold kernel
// queues each batch whole before the GPU runs it (the timings are the
// kernels' own), else why it could not be loaded (the timings then
// include the host's launch latency wherever the GPU outran the host).
func (b *Backend) ProfileHold() string { return b.prof.holdErr }

// loadHold loads the hold kernel once; a failure only disables it.
func (b *Backend) loadHold() {
	if b.prof.hold != 0 || b.prof.holdErr != "" {
		return
	}
	f, err := b.dev.function("profile_hold", holdSrc, "metallic_profile_hold")
	if err != nil {
		b.prof.holdErr = err.Error()
		return
	}
	b.prof.hold = f
}

type timing struct {
	label      string
	cfg        launchConfig
	start, end handle
}

// SetProfiling turns profiling mode on or off, after waiting for the work
// in flight. While it is on, every launch of a committed batch is
// bracketed by CUDA events (graphs are not used), and Profile reports the
// GPU time of each. Each batch is queued behind a hold kernel that keeps
// the GPU busy until the host has launched all of it (ProfileHold), so
// the timings are the kernels' own plus the small gaps between queued
// launches, not the host's launch latency.
func (b *Backend) SetProfiling(on bool) error {
	if err := b.checkOpen("SetProfiling"); err != nil {
		return err
	}
	if on == b.prof.on {
		return nil
	}
	if err := b.wait("SetProfiling"); err != nil {
		return err
	}
	if on {
		b.loadHold()
	}
	b.prof.on = on
	return nil
}

// Profile waits for the work in flight and returns the GPU time of every
// launch committed in profiling mode since the last call, in launch order.
func (b *Backend) Profile() ([]KernelTime, error) {
	if err := b.wait("Profile"); err != nil {
		return nil, err
	}
	out := make([]KernelTime, 0, len(b.prof.pending))
	err := b.drv.run(func() error {
		for _, t := range b.prof.pending {
			ms, err := b.drv.eventElapsed(t.start, t.end)
			if err != nil {
				return fmt.Errorf("cuda: Profile: %s: %w", t.label, err)
			}
			c := t.cfg
			out = append(out, KernelTime{Kernel: t.label, Ms: float64(ms),
				Grid:  [3]int{int(c.grid[0]), int(c.grid[1]), int(c.grid[2])},
				Block: [3]int{int(c.block[0]), int(c.block[1]), int(c.block[2])}})
		}
		return nil
	})
	b.prof.pool = append(b.prof.pool, b.prof.used...)
	b.prof.used, b.prof.pending = b.prof.used[:0], b.prof.pending[:0]
	if err != nil {
		return nil, err
	}
	return out, nil
}

// event returns a free event (inside run).
func (p *profiler) event(d driver) (handle, error) {
	if n := len(p.pool); n > 0 {
		e := p.pool[n-1]
		p.pool = p.pool[:n-1]
		return e, nil
	}
	return d.eventCreate()
}

// record records a fresh event on s (inside run).
func (p *profiler) record(d driver, s handle) (handle, error) {
	e, err := p.event(d)
	if err != nil {
		return 0, err
	}
	p.used = append(p.used, e)
	return e, d.eventRecord(e, s)
}

// destroy destroys every event (inside run, the stream idle).
func (p *profiler) destroy(d driver) []error {
	var errs []error
	for _, e := range append(p.pool, p.used...) {
		errs = append(errs, d.eventDestroy(e))
	}
	p.pool, p.used, p.pending = nil, nil, nil
	return errs
}

// submitProfiled launches rec behind the hold kernel, with an event
// before the first launch and after each one.
func (b *Backend) submitProfiled(rec *recording) error {
	b.graphs.stats.Plain++
	err := b.drv.run(func() error {
		if b.prof.hold != 0 {
			var blob [4]byte
			binary.LittleEndian.PutUint32(blob[:], uint32(holdMicros(len(rec.launches))))
			cfg := launchConfig{grid: [3]uint32{1, 1, 1}, block: [3]uint32{1, 1, 1}}
			if err := b.drv.launch(b.prof.hold, cfg, b.stream, blob[:], []int{0}); err != nil {
				return fmt.Errorf("cuda: the profiling hold kernel: %w", err)
			}
		}
		start, err := b.prof.record(b.drv, b.stream)
		if err != nil {
			return fmt.Errorf("cuda: profiling event: %w", err)
		}
		for i := range rec.launches {
			if err := b.launchOne(rec, i); err != nil {
				return err
			}
			end, err := b.prof.record(b.drv, b.stream)
			if err != nil {
				return fmt.Errorf("cuda: profiling event: %w", err)
			}
			l := &rec.launches[i]
			b.prof.pending = append(b.prof.pending, timing{label: l.k.label, cfg: l.cfg, start: start, end: end})
			start = end
		}
		return nil
	})
	b.inflight.add(rec.launches)
	return err
}
