package metal

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
)

// dispatch is one recorded dispatch: its kernel, launch and bindings (a
// range of the recording's shared slices).
type dispatch struct {
	k     *kernel
	ls    launchShape
	binds [2]int // rec.binds[binds[0]:binds[1]]
}

// recording is what an encoder has recorded.
type recording struct {
	dispatches []dispatch
	binds      []binding
	arena      []byte // setBytes payloads
}

func (r *recording) reset() {
	r.dispatches, r.binds, r.arena = r.dispatches[:0], r.binds[:0], r.arena[:0]
}

// encoder records dispatches; Commit encodes them into one command buffer
// and commits it.
type encoder struct {
	b    *Backend
	rec  *recording
	err  error
	done bool
}

// Begin starts recording a batch. Nothing reaches Metal before Commit:
// one forward call is one command buffer.
func (b *Backend) Begin() backend.Encoder {
	rec := b.spare
	b.spare = nil
	if rec == nil {
		rec = &recording{}
	}
	rec.reset()
	e := &encoder{b: b, rec: rec}
	if b.closed {
		e.err = errors.New("metal: Begin on a closed backend")
	}
	return e
}

// Dispatch records k over g with args. Errors (a foreign or freed buffer,
// an offset outside its buffer or misaligned for its parameter, arguments
// that do not match the kernel's parameters, a launch the pipeline or
// Metal cannot run) are reported by Commit.
func (e *encoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.err != nil {
		return
	}
	if e.done {
		e.err = errors.New("metal: Dispatch after Commit")
		return
	}
	if err := e.record(k, g, args); err != nil {
		e.err = err
	}
}

func (e *encoder) record(k backend.Kernel, g backend.Grid, args []backend.Arg) error {
	kk, ok := k.(*kernel)
	switch {
	case !ok || kk == nil:
		return fmt.Errorf("metal: kernel %T was not loaded by the metal backend", k)
	case kk.b != e.b:
		return fmt.Errorf("metal: kernel %s was loaded by another metal backend", kk.label)
	case g.X < 0 || g.Y < 0 || g.Z < 0:
		return fmt.Errorf("metal: %s: negative grid %+v", kk.label, g)
	}
	r := e.rec
	start, astart := len(r.binds), len(r.arena)
	var err error
	r.binds, r.arena, err = kk.args.resolve(r.binds, r.arena, args, e.b.own)
	if err != nil {
		r.binds, r.arena = r.binds[:start], r.arena[:astart]
		return fmt.Errorf("metal: %s: %w (parameters: %s)", kk.label, err, kk.describeArgs())
	}
	ls, skip, err := kk.launch(g, args)
	if err != nil || skip {
		r.binds, r.arena = r.binds[:start], r.arena[:astart]
		return err
	}
	r.dispatches = append(r.dispatches, dispatch{k: kk, ls: ls, binds: [2]int{start, len(r.binds)}})
	return nil
}

// Commit encodes the recorded dispatches into one command buffer and
// commits it without waiting, returning the first error met while
// recording or encoding (also kept for Sync). Under METALLIC_METAL_SYNC=1
// or while profiling, each dispatch is its own command buffer (waited for
// under sync, so a GPU error names its dispatch).
func (e *encoder) Commit() error {
	if e.done {
		return errors.New("metal: Commit twice")
	}
	e.done = true
	b, rec := e.b, e.rec
	e.rec = nil
	defer func() { b.spare = rec }()
	if e.err != nil {
		b.setErr(e.err)
		return e.err
	}
	if b.closed {
		return errors.New("metal: Commit on a closed backend")
	}
	for _, d := range rec.dispatches {
		for _, bd := range rec.binds[d.binds[0]:d.binds[1]] {
			if bd.buf != nil && bd.buf.freed {
				err := fmt.Errorf("metal: Commit: %s uses a buffer freed after its Dispatch", d.k.label)
				b.setErr(err)
				return err
			}
		}
	}
	if len(rec.dispatches) == 0 {
		return nil
	}
	var err error
	if b.cfg.sync || b.prof.on {
		for i := range rec.dispatches {
			if err = b.submit(rec, rec.dispatches[i:i+1]); err != nil {
				break
			}
			if b.cfg.sync {
				if err = b.wait("Commit"); err != nil {
					break
				}
			}
		}
	} else {
		err = b.submit(rec, rec.dispatches)
	}
	b.setErr(err)
	return err
}

// batch is a committed command buffer and what it holds.
type batch struct {
	cb     id // retained
	labels []string
	n      int // dispatches
	prof   *KernelTime
}

// submit encodes ds into a new command buffer, with one compute encoder,
// and commits it.
func (b *Backend) submit(rec *recording, ds []dispatch) error {
	o := b.o
	bt := &batch{n: len(ds)}
	for _, d := range ds {
		if len(bt.labels) == 0 || bt.labels[len(bt.labels)-1] != d.k.label {
			bt.labels = append(bt.labels, d.k.label)
		}
	}
	err := b.dev.run(func() error {
		cb := o.sendID(msgCommandBuffer, b.queue)
		if cb == 0 {
			return errors.New("metal: commandBuffer returned nil")
		}
		bt.cb = o.sendID(msgRetain, cb)
		enc := o.sendID(msgComputeCommandEncoder, cb)
		if enc == 0 {
			o.release(bt.cb)
			return errors.New("metal: computeCommandEncoder returned nil")
		}
		var cur id
		for _, d := range ds {
			if d.k.pipe.pso != cur {
				cur = d.k.pipe.pso
				o.send(msgSetComputePipelineState, enc, uintptr(cur))
			}
			for _, bd := range rec.binds[d.binds[0]:d.binds[1]] {
				if bd.buf != nil {
					o.send(msgSetBuffer, enc, uintptr(bd.buf.mtl), uintptr(bd.off), uintptr(bd.index))
				} else {
					o.send(msgSetBytes, enc, uintptr(unsafe.Pointer(&bd.bytes[0])), uintptr(len(bd.bytes)), uintptr(bd.index))
				}
			}
			if d.ls.tgMem > 0 {
				o.send(msgSetThreadgroupMemoryLength, enc, uintptr(d.ls.tgMem), uintptr(d.k.tgIndex))
			}
			o.sendSizes(msgDispatchThreadgroups, enc, toSize(d.ls.grid), toSize(d.ls.threads))
		}
		runtime.KeepAlive(rec)
		o.send(msgEndEncoding, enc)
		o.send(msgCommit, bt.cb)
		return nil
	})
	if err != nil {
		return err
	}
	if b.prof.on {
		d := ds[0]
		bt.prof = &KernelTime{Kernel: d.k.label, Grid: d.ls.grid, Threads: d.ls.threads[0], ThreadgroupMem: d.ls.tgMem}
	}
	b.inflight = append(b.inflight, bt)
	return nil
}

// toSize is an MTLSize.
func toSize(v [3]int) mtlSize { return mtlSize{uint64(v[0]), uint64(v[1]), uint64(v[2])} }
