package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/metallic-go/metallic/backend"
)

// launch is one recorded kernel launch. Its parameter bytes, offsets and
// buffers are ranges of the recording's shared slices.
type launch struct {
	k    *kernel
	cfg  launchConfig
	blob [2]int // rec.key[blob[0]:blob[1]]: packed parameters
	offs [2]int // rec.offs[offs[0]:offs[1]]: parameter offsets
	bufs [2]int // rec.bufs[bufs[0]:bufs[1]]: buffers the launch reads or writes
}

// recording is what an encoder has recorded. key is the batch's identity:
// for every launch its function, launch shape, argument kinds and packed
// parameter bytes; two batches with equal keys launch the same kernels on
// the same memory with the same scalars (the graph cache relies on it).
type recording struct {
	key      []byte
	offs     []int
	bufs     []*buffer
	launches []launch
	ptrs     []devptr // scratch: device addresses of one dispatch's buffers
}

func (r *recording) reset() {
	r.key, r.offs, r.bufs, r.launches = r.key[:0], r.offs[:0], r.bufs[:0], r.launches[:0]
}

// encoder records dispatches; Commit launches them as one batch.
type encoder struct {
	b    *Backend
	rec  *recording
	err  error
	done bool
}

// Begin starts recording a batch. Nothing reaches the GPU before Commit.
func (b *Backend) Begin() backend.Encoder {
	rec := b.spare
	b.spare = nil
	if rec == nil {
		rec = &recording{}
	}
	rec.reset()
	e := &encoder{b: b, rec: rec}
	if b.closed {
		e.err = errors.New("cuda: Begin on a closed backend")
	}
	return e
}

// Dispatch records k over g with args. Errors (a foreign or freed buffer,
// an offset outside its buffer, arguments that do not match the kernel, a
// launch shape the device cannot run) are reported by Commit.
func (e *encoder) Dispatch(k backend.Kernel, g backend.Grid, args ...backend.Arg) {
	if e.err != nil {
		return
	}
	if e.done {
		e.err = errors.New("cuda: Dispatch after Commit")
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
		return fmt.Errorf("cuda: kernel %T was not loaded by the cuda backend", k)
	case kk.b != e.b:
		return fmt.Errorf("cuda: kernel %s was loaded by another cuda backend", kk.label)
	case g.X < 0 || g.Y < 0 || g.Z < 0:
		return fmt.Errorf("cuda: %s: negative grid %+v", kk.label, g)
	}
	if kk.sig != "" && !matches(kk.sig, args) {
		return fmt.Errorf("cuda: %s takes arguments %q (b buffer, i int, f float), got %q", kk.label, kk.sig, signature(args))
	}
	r := e.rec
	r.ptrs = r.ptrs[:0]
	bufStart := len(r.bufs)
	for i, a := range args {
		var p devptr
		if a.Kind == backend.ArgBuffer {
			x, err := e.b.own(a.Buf)
			if err != nil {
				r.bufs = r.bufs[:bufStart]
				return fmt.Errorf("cuda: %s arg %d: %w", kk.label, i, err)
			}
			if a.Off < 0 || a.Off > x.size {
				r.bufs = r.bufs[:bufStart]
				return fmt.Errorf("cuda: %s arg %d: offset %d outside a %d-byte buffer", kk.label, i, a.Off, x.size)
			}
			p = x.ptr + devptr(a.Off)
			r.bufs = append(r.bufs, x)
		}
		r.ptrs = append(r.ptrs, p)
	}
	cfg, skip, err := kk.config(g, args)
	if err != nil || skip {
		r.bufs = r.bufs[:bufStart]
		return err
	}
	cfg.pdl = e.b.pdl
	// The key: function, shape, argument kinds, then the packed bytes.
	keyStart, offStart := len(r.key), len(r.offs)
	r.key = binary.LittleEndian.AppendUint64(r.key, uint64(kk.fn))
	for _, v := range [...]uint32{cfg.grid[0], cfg.grid[1], cfg.grid[2], cfg.block[0], cfg.block[1], cfg.block[2], cfg.shared, uint32(len(args))} {
		r.key = binary.LittleEndian.AppendUint32(r.key, v)
	}
	for _, a := range args {
		r.key = append(r.key, kindLetter(a.Kind))
	}
	blobStart := len(r.key)
	r.key, r.offs, err = packParams(r.key, r.offs, args, r.ptrs)
	if err == nil && kk.params != nil {
		err = checkParams(args, r.offs[offStart:], kk.params)
	}
	if err != nil {
		r.key, r.offs, r.bufs = r.key[:keyStart], r.offs[:offStart], r.bufs[:bufStart]
		return fmt.Errorf("cuda: %s: %w", kk.label, err)
	}
	r.launches = append(r.launches, launch{k: kk, cfg: cfg,
		blob: [2]int{blobStart, len(r.key)}, offs: [2]int{offStart, len(r.offs)}, bufs: [2]int{bufStart, len(r.bufs)}})
	return nil
}

// config returns the launch configuration of a dispatch over g, checked
// against the device's limits; skip is true when the grid is empty.
func (k *kernel) config(g backend.Grid, args []backend.Arg) (cfg launchConfig, skip bool, err error) {
	var grid, block [3]int
	var shared int
	if k.shape != nil {
		grid, block, shared = k.shape(g, args)
	} else {
		grid = [3]int{max(g.X, 1), max(g.Y, 1), max(g.Z, 1)}
		block = [3]int{k.threads, 1, 1}
		shared = k.shared
	}
	info := k.b.dev.info
	threads := 1
	for i := range 3 {
		if grid[i] == 0 {
			return cfg, true, nil
		}
		if grid[i] < 0 || grid[i] > info.maxGrid[i] {
			return cfg, false, fmt.Errorf("cuda: %s: grid %v outside the device's limits %v", k.label, grid, info.maxGrid)
		}
		if block[i] < 1 || block[i] > info.maxBlock[i] {
			return cfg, false, fmt.Errorf("cuda: %s: block %v outside the device's limits %v", k.label, block, info.maxBlock)
		}
		threads *= block[i]
		cfg.grid[i], cfg.block[i] = uint32(grid[i]), uint32(block[i])
	}
	if threads > info.maxThreads {
		return cfg, false, fmt.Errorf("cuda: %s: block %v has %d threads, the device allows %d", k.label, block, threads, info.maxThreads)
	}
	if threads > k.fnThreads {
		return cfg, false, fmt.Errorf("cuda: %s: block %v has %d threads, the compiled kernel can run at most %d (register use)", k.label, block, threads, k.fnThreads)
	}
	if shared < 0 {
		return cfg, false, fmt.Errorf("cuda: %s: negative shared memory %d", k.label, shared)
	}
	if err := k.ensureShared(shared); err != nil {
		return cfg, false, err
	}
	cfg.shared = uint32(shared)
	return cfg, false, nil
}

// Commit launches the recorded batch without waiting for it and returns
// the first error met while recording or launching (also kept for Sync).
func (e *encoder) Commit() error {
	if e.done {
		return errors.New("cuda: Commit twice")
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
		return errors.New("cuda: Commit on a closed backend")
	}
	if len(rec.launches) == 0 {
		return nil
	}
	for _, l := range rec.launches {
		for _, x := range rec.bufs[l.bufs[0]:l.bufs[1]] {
			if x.freed {
				err := fmt.Errorf("cuda: Commit: %s uses a buffer freed after its Dispatch", l.k.label)
				b.setErr(err)
				return err
			}
		}
	}
	err := b.submit(rec)
	b.setErr(err)
	return err
}

// describe names launch i of n for an error message.
func (l *launch) describe(i, n int) string {
	c := l.cfg
	return fmt.Sprintf("launch %d of %d (grid %d×%d×%d, block %d×%d×%d, %d B shared)", i+1, n,
		c.grid[0], c.grid[1], c.grid[2], c.block[0], c.block[1], c.block[2], c.shared)
}

// launchAll launches every recorded kernel on the stream, inside run.
func (b *Backend) launchAll(rec *recording) error {
	for i := range rec.launches {
		if err := b.launchOne(rec, i); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) launchOne(rec *recording, i int) error {
	l := &rec.launches[i]
	err := b.drv.launch(l.k.fn, l.cfg, b.stream, rec.key[l.blob[0]:l.blob[1]], rec.offs[l.offs[0]:l.offs[1]])
	if err != nil {
		return fmt.Errorf("cuda: %s: %w", l.describe(i, len(rec.launches)), withKernel(err, l.k.label))
	}
	return nil
}
