package cuda

import (
	"errors"
	"fmt"
)

// CUDA graphs for repeated batches.
//
// Positions live in device memory (Pos arguments), so consecutive decode
// steps commit identical batches: the same kernels, launch shapes and
// parameter bytes. The first time a batch's key is seen it is launched
// kernel by kernel; the second time it is captured (stream capture) into
// a graph, instantiated and launched as one; from then on the graph is
// replayed with a single cuGraphLaunch. A replay does exactly what the
// plain launches would (same functions, shapes and parameter bytes: the
// key is all of them), so it gives the same bits. Batches of fewer than
// config.graphMin launches (a path with a hook commits a few dispatches at
// a time) are always launched plainly. The cache keeps config.graphMax
// keys, evicting the least recently used.

// GraphStats counts how committed batches were run.
type GraphStats struct {
	Plain    int // launched kernel by kernel
	Captured int // captured into a graph on their second occurrence, then launched
	Replayed int // replayed from a graph captured earlier
	Failed   int // could not be captured, launched kernel by kernel
}

// GraphStats reports how the batches committed so far were run.
func (b *Backend) GraphStats() GraphStats { return b.graphs.stats }

type graphAction int

const (
	actPlain graphAction = iota
	actCapture
	actReplay
)

type graphEntry struct {
	seen     int
	exec     handle
	captured bool
	failed   bool
	used     uint64 // tick of the last use
}

type graphCache struct {
	max     int
	tick    uint64
	entries map[string]*graphEntry
	retired []handle // evicted graphs, destroyed at the next completed wait
	stats   GraphStats
}

func (c *graphCache) init(max int) {
	c.max = max
	c.entries = map[string]*graphEntry{}
}

// lookup counts one more occurrence of key and says how to run it.
func (c *graphCache) lookup(key []byte) (graphAction, *graphEntry) {
	c.tick++
	e, ok := c.entries[string(key)]
	if !ok {
		if len(c.entries) >= c.max {
			c.evict()
		}
		e = &graphEntry{}
		c.entries[string(key)] = e
	}
	e.used = c.tick
	e.seen++
	switch {
	case e.failed:
		return actPlain, e
	case e.captured:
		return actReplay, e
	case e.seen >= 2:
		return actCapture, e
	}
	return actPlain, e
}

// evict drops the least recently used entry; its graph may still be in
// flight, so it is destroyed at the next completed wait.
func (c *graphCache) evict() {
	var oldKey string
	var old *graphEntry
	for k, e := range c.entries {
		if old == nil || e.used < old.used {
			oldKey, old = k, e
		}
	}
	if old == nil {
		return
	}
	delete(c.entries, oldKey)
	if old.captured {
		c.retired = append(c.retired, old.exec)
	}
}

// reap destroys the retired graphs; the stream is idle (inside run).
func (c *graphCache) reap(d driver) error {
	var errs []error
	for _, x := range c.retired {
		errs = append(errs, d.graphDestroy(x))
	}
	c.retired = c.retired[:0]
	return errors.Join(errs...)
}

// destroyAll destroys every graph (inside run, the stream idle).
func (c *graphCache) destroyAll(d driver) []error {
	errs := []error{c.reap(d)}
	for k, e := range c.entries {
		if e.captured {
			errs = append(errs, d.graphDestroy(e.exec))
		}
		delete(c.entries, k)
	}
	return errs
}

// pdlOff says why launches do not allow programmatic dependent launch
// ("" when they do).
func (b *Backend) pdlOff() string {
	if !b.cfg.pdl {
		return EnvPDL + " unset"
	}
	if err := b.drv.pdlSupported(); err != nil {
		return err.Error()
	}
	return ""
}

// graphsOff says why graphs are off ("" when they are on).
func (b *Backend) graphsOff() string {
	if !b.cfg.graphs {
		return EnvGraphs + "=0"
	}
	if err := b.drv.graphsSupported(); err != nil {
		return err.Error()
	}
	if b.cfg.sync {
		return EnvSync + "=1"
	}
	return ""
}

// submit launches a recorded batch: kernel by kernel, as a new graph, or
// by replaying a graph (see above); in profiling mode between events; with
// METALLIC_CUDA_SYNC=1 waiting after each launch.
func (b *Backend) submit(rec *recording) error {
	switch {
	case b.prof.on:
		return b.submitProfiled(rec)
	case b.cfg.sync:
		return b.submitEach(rec)
	}
	act, ent := actPlain, (*graphEntry)(nil)
	if len(rec.launches) >= b.cfg.graphMin && b.graphsOff() == "" {
		act, ent = b.graphs.lookup(rec.key)
	}
	err := b.drv.run(func() error {
		switch act {
		case actReplay:
			b.graphs.stats.Replayed++
			if err := b.drv.graphLaunch(ent.exec, b.stream); err != nil {
				return fmt.Errorf("cuda: replaying the graph of a batch of %d launches: %w", len(rec.launches), err)
			}
			return nil
		case actCapture:
			return b.capture(rec, ent)
		}
		b.graphs.stats.Plain++
		return b.launchAll(rec)
	})
	b.inflight.add(rec.launches)
	return err
}

// capture records rec into a graph and launches it, inside run. When the
// capture itself fails the batch is launched plainly and its key is never
// captured again.
func (b *Backend) capture(rec *recording, ent *graphEntry) error {
	if err := b.drv.beginCapture(b.stream); err != nil {
		ent.failed = true
		b.graphs.stats.Failed++
		return b.launchAll(rec)
	}
	lerr := b.launchAll(rec)
	exec, err := b.drv.endCapture(b.stream)
	if lerr != nil {
		if err == nil {
			b.drv.graphDestroy(exec)
		}
		ent.failed = true
		b.graphs.stats.Failed++
		return lerr
	}
	if err != nil {
		ent.failed = true
		b.graphs.stats.Failed++
		return b.launchAll(rec)
	}
	ent.exec, ent.captured = exec, true
	b.graphs.stats.Captured++
	if err := b.drv.graphLaunch(exec, b.stream); err != nil {
		return fmt.Errorf("cuda: launching the graph just captured from a batch of %d launches: %w", len(rec.launches), err)
	}
	return nil
}

// submitEach launches one kernel at a time and waits for each, so an
// asynchronous fault names its launch (METALLIC_CUDA_SYNC=1).
func (b *Backend) submitEach(rec *recording) error {
	b.graphs.stats.Plain++
	for i := range rec.launches {
		err := b.drv.run(func() error { return b.launchOne(rec, i) })
		b.inflight.add(rec.launches[i : i+1])
		if err != nil {
			return err
		}
		if err := b.wait(rec.launches[i].describe(i, len(rec.launches))); err != nil {
			return err
		}
	}
	return nil
}
