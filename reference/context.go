package reference

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
	_ "github.com/metallic-go/metallic/backend/cpu" // the default backend
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

func init() {
	model.RegisterPath("reference", func(m *model.Model, opts model.PathOptions) (model.Path, error) {
		return New(m, opts)
	})
}

// Context is the reference path over one model. It is not safe for
// concurrent use.
type Context struct {
	m    *model.Model
	cfg  model.Config
	be   backend.Backend
	num  backend.Numerics // the profile every built-in op is loaded under
	mm   string           // OpMatMulQ under ggml-cpu, OpMatMul under plain
	act  backend.DType
	kv   backend.DType     // KV-cache storage
	fa   backend.FlashAttn // OpAttention's flash variant
	cap  int               // KV-cache capacity in positions
	n    int               // positions in the cache
	hook model.Hook
	fwd  func(c *Context, T, pos int) // the architecture's forward

	kernels map[kernelKey]backend.Kernel
	weights map[*byte]backend.Buffer // wrapped weight views by first byte
	kc, vc  []backend.Buffer         // per layer [cap, kv·hd] in kv storage
	enc     backend.Encoder
	err     error     // first error of the current forward call
	last    bool      // the current call computes the last row's logits only
	lastRow []float32 // ForwardLast's logits, reused
	idsHost []int32
	// argArena holds the current call's dispatch arguments (run).
	argArena []backend.Arg

	// Activations of the current call, each [T, width] in act storage.
	bufT                int
	ids                 backend.Buffer // int32 [T+1]: the ids, then the position
	x, xb, h, proj, ffo backend.Buffer // [T, d]
	q, att              backend.Buffer // [T, heads·hd]
	k, v                backend.Buffer // [T, kv·hd]
	gate, up            backend.Buffer // [T, ff]
	logits              backend.Buffer // float32 [T, vocab]
}

// f32 is the storage of the logits.
const f32 = backend.F32

type kernelKey struct {
	op      string
	w       gguf.Type
	in, out backend.DType
}

var forwards = map[string]func(c *Context, T, pos int){
	"llama": forwardLlama,
	"qwen2": forwardQwen2,
	"qwen3": forwardQwen3,
}

// New opens a reference Context over m on the backend opts.Backend ("cpu"
// when empty) with a KV cache of opts.Ctx positions (0: min(ContextLen,
// 4096)) stored in model.KVDTypeOf(opts), and activations stored in
// opts.ActDType ("f32" when empty), every op computed under the numerics
// profile opts.Numerics (empty: the backend's default,
// backend.SelectNumerics). Under ggml-cpu the projections are OpMatMulQ
// (activations rounded as llama.cpp's CPU backend rounds them); under
// plain they are OpMatMul. With opts.FlashAttn (ggml-cpu only:
// model.CheckFlashAttn), attention is ggml's CPU flash attention as
// llama.cpp runs it with the same context, its default batch (min(ctx,
// 512)) and opts.Threads threads (the one place the reference's result
// depends on a thread count: llama.cpp's does, for a single query over
// 512 cells or more; see backend.FlashAttn).
func New(m *model.Model, opts model.PathOptions) (*Context, error) {
	if m == nil {
		return nil, errors.New("reference: nil model")
	}
	if err := model.CheckFlashAttn("reference", opts); err != nil {
		return nil, err
	}
	fwd, ok := forwards[m.Config.Arch]
	if !ok {
		return nil, fmt.Errorf("reference: unsupported architecture %q (have llama, qwen2, qwen3)", m.Config.Arch)
	}
	act, err := backend.ParseDType(opts.ActDType)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	kv, err := backend.ParseDType(model.KVDTypeOf(opts))
	if err != nil {
		return nil, fmt.Errorf("reference: KV cache: %w", err)
	}
	capacity, err := model.ContextSize(&m.Config, opts)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	be, err := backend.OpenOptions(opts.Backend, opts.BackendOptions())
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	num, err := backend.SelectNumerics(be, opts.Numerics)
	if err != nil {
		be.Close()
		return nil, fmt.Errorf("reference: %w", err)
	}
	mm := backend.OpMatMul
	if num == backend.GGMLCPU {
		mm = backend.OpMatMulQ
	}
	c := &Context{m: m, cfg: m.Config, be: be, num: num, mm: mm, act: act, kv: kv, cap: capacity, fwd: fwd,
		kernels: map[kernelKey]backend.Kernel{}, weights: map[*byte]backend.Buffer{}}
	if opts.FlashAttn {
		threads := opts.Threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		// llama.cpp's batch and threads as the llamacpp path runs it.
		c.fa = backend.FlashAttn{On: true, Batch: min(capacity, 512), Threads: threads}
	}
	if err := c.setup(); err != nil {
		be.Close()
		return nil, err
	}
	return c, nil
}

// setup wraps the weights, loads every kernel the forward needs (failing
// early for unsupported dtypes) and allocates the KV cache.
func (c *Context) setup() error {
	w := &c.m.Weights
	all := []*model.Weight{&w.Embd, &w.OutputNorm, &w.Output}
	for i := range w.Layers {
		l := &w.Layers[i]
		all = append(all, &l.AttnNorm, &l.Q, &l.K, &l.V, &l.QBias, &l.KBias, &l.VBias,
			&l.QNorm, &l.KNorm, &l.O, &l.FFNNorm, &l.Gate, &l.Up, &l.Down)
	}
	for _, wt := range all {
		if wt.Data == nil {
			continue
		}
		if _, err := c.wrap(wt); err != nil {
			return err
		}
	}
	// Load every kernel now so an unsupported dtype fails at open.
	for _, k := range []struct {
		op  string
		w   *model.Weight
		out backend.DType
	}{
		{backend.OpEmbed, &w.Embd, c.act}, {backend.OpRMSNorm, &w.OutputNorm, c.act},
		{c.mm, &w.Output, backend.F32},
	} {
		if _, err := c.kernel(k.op, k.w.Type, k.out); err != nil {
			return fmt.Errorf("reference: %s (%v): %w", k.w.Name, k.w.Type, err)
		}
	}
	for _, l := range w.Layers {
		for _, wt := range []model.Weight{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down} {
			if _, err := c.kernel(c.mm, wt.Type, c.act); err != nil {
				return fmt.Errorf("reference: %s (%v): %w", wt.Name, wt.Type, err)
			}
		}
		for _, wt := range []model.Weight{l.AttnNorm, l.FFNNorm, l.QNorm, l.KNorm} {
			if wt.Data != nil {
				if _, err := c.kernel(backend.OpRMSNorm, wt.Type, c.act); err != nil {
					return fmt.Errorf("reference: %s (%v): %w", wt.Name, wt.Type, err)
				}
			}
		}
		for _, wt := range []model.Weight{l.QBias, l.KBias, l.VBias} {
			if wt.Data != nil {
				if _, err := c.kernel(backend.OpAddBias, wt.Type, c.act); err != nil {
					return fmt.Errorf("reference: %s (%v): %w", wt.Name, wt.Type, err)
				}
			}
		}
	}
	for _, op := range []string{backend.OpRope, backend.OpAttention, backend.OpAdd, backend.OpSwiGLU} {
		if _, err := c.kernel(op, gguf.TypeF32, c.act); err != nil {
			return fmt.Errorf("reference: %w", err)
		}
	}
	if _, err := c.kernel(backend.OpCopy, gguf.TypeF32, c.kv); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	kvBytes := c.cap * c.cfg.KVHeads * c.cfg.HeadDim * c.kv.Size()
	for range c.cfg.Layers {
		kb, err := c.be.Alloc(kvBytes)
		if err != nil {
			return fmt.Errorf("reference: KV cache: %w", err)
		}
		vb, err := c.be.Alloc(kvBytes)
		if err != nil {
			return fmt.Errorf("reference: KV cache: %w", err)
		}
		c.kc, c.vc = append(c.kc, kb), append(c.vc, vb)
	}
	return nil
}

// wrap returns the backend buffer of a weight, wrapping its mapped bytes
// once (the LM head of a tied model shares the embedding's buffer).
func (c *Context) wrap(w *model.Weight) (backend.Buffer, error) {
	if len(w.Data) == 0 {
		return nil, fmt.Errorf("reference: weight %s is empty", w.Name)
	}
	if b, ok := c.weights[&w.Data[0]]; ok {
		return b, nil
	}
	b, err := c.be.Wrap(w.Data)
	if err != nil {
		return nil, fmt.Errorf("reference: weight %s: %w", w.Name, err)
	}
	c.weights[&w.Data[0]] = b
	return b, nil
}

// kernel returns the built-in op specialized for weight dtype w, input
// storage c.act and output storage out (KV storage c.kv, attention c.fa).
func (c *Context) kernel(op string, w gguf.Type, out backend.DType) (backend.Kernel, error) {
	key := kernelKey{op, w, c.act, out}
	if k, ok := c.kernels[key]; ok {
		return k, nil
	}
	k, err := c.be.Load(backend.KernelSpec{Name: op, Weight: w, Numerics: c.num, In: c.act, Out: out, KV: c.kv, Flash: c.fa})
	if err != nil {
		return nil, err
	}
	c.kernels[key] = k
	return k, nil
}

// Name returns "reference".
func (c *Context) Name() string { return "reference" }

// Numerics returns the profile the context computes under: "plain" or
// "ggml-cpu".
func (c *Context) Numerics() string { return string(c.num) }

// Config returns the model's hyper-parameters.
func (c *Context) Config() *model.Config { return &c.cfg }

// Backend returns the backend the context runs on.
func (c *Context) Backend() backend.Backend { return c.be }

// Capacity is the KV-cache size in positions.
func (c *Context) Capacity() int { return c.cap }

// Reset empties the KV cache.
func (c *Context) Reset() { c.n = 0 }

// SetHook installs h (nil removes it).
func (c *Context) SetHook(h model.Hook) { c.hook = h }

// Checkpoints lists the checkpoint kinds the reference materializes: every
// kind of the architecture's graph (model.NewGraph), in its order.
func (c *Context) Checkpoints() []string { return model.NewGraph(&c.cfg).Kinds() }

// Close releases the backend.
func (c *Context) Close() error {
	if c.be == nil {
		return nil
	}
	err := c.be.Close()
	c.be = nil
	return err
}

// Forward runs tokens at positions pos… and returns float32 logits
// [len(tokens), Vocab].
func (c *Context) Forward(tokens []int32, pos int) ([]float32, error) {
	return c.forward(tokens, pos, false)
}

// ForwardLast is Forward returning only the last position's logits
// [Vocab] (model.LastForwarder): without a hook the LM head runs on that
// row alone and one row is downloaded into a slice the context reuses
// (valid until its next call); with a hook it is Forward, cut to the last
// row.
func (c *Context) ForwardLast(tokens []int32, pos int) ([]float32, error) {
	if c.hook != nil {
		logits, err := c.forward(tokens, pos, false)
		if err != nil {
			return nil, err
		}
		return append([]float32(nil), logits[(len(tokens)-1)*c.cfg.Vocab:]...), nil
	}
	return c.forward(tokens, pos, true)
}

// forward runs a call; with last the LM head computes the last row only
// (c.last, read by lmHead) and only that row is returned.
func (c *Context) forward(tokens []int32, pos int, last bool) ([]float32, error) {
	T := len(tokens)
	switch {
	case c.be == nil:
		return nil, errors.New("reference: Forward on a closed context")
	case T == 0:
		return nil, errors.New("reference: Forward needs at least one token")
	case pos != c.n:
		return nil, fmt.Errorf("reference: Forward at position %d, but the KV cache holds %d positions", pos, c.n)
	case pos+T > c.cap:
		return nil, model.ContextFull("reference", pos, T, c.cap)
	}
	for i, id := range tokens {
		if id < 0 || int(id) >= c.cfg.Vocab {
			return nil, fmt.Errorf("reference: token id %d at index %d is outside the vocabulary (0…%d)", id, i, c.cfg.Vocab-1)
		}
	}
	if err := c.ensure(T); err != nil {
		return nil, err
	}
	c.idsHost = append(c.idsHost[:0], tokens...) // the ids, then the position (Context.pos)
	c.idsHost = append(c.idsHost, int32(pos))
	if err := c.be.Upload(c.ids, 0, int32Bytes(c.idsHost)); err != nil {
		return nil, err
	}
	c.err = nil
	c.last = last
	c.argArena = c.argArena[:0]
	c.enc = c.be.Begin()
	c.fwd(c, T, pos)
	if err := c.enc.Commit(); err != nil && c.err == nil {
		c.err = err
	}
	c.enc = nil
	if err := c.be.Sync(); err != nil && c.err == nil {
		c.err = err
	}
	if c.err != nil {
		return nil, fmt.Errorf("reference: forward: %w", c.err)
	}
	rows := T
	if last {
		rows = 1
	}
	var logits []float32
	if last {
		// One row, downloaded into a buffer the context reuses (a decode
		// step allocates nothing this size).
		if c.lastRow == nil {
			c.lastRow = make([]float32, c.cfg.Vocab)
		}
		logits = c.lastRow
	} else {
		logits = make([]float32, rows*c.cfg.Vocab)
	}
	if err := c.be.Download(float32Bytes(logits), c.logits, 0); err != nil {
		return nil, err
	}
	c.n = pos + T
	return logits, nil
}

// float32Bytes views v's memory as bytes (little-endian hosts: the
// device's layout), so logits download straight into the returned slice.
func float32Bytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// int32Bytes views v's memory as bytes.
func int32Bytes(v []int32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// ensure allocates activation buffers for T positions.
func (c *Context) ensure(T int) error {
	if T <= c.bufT {
		return nil
	}
	cfg := &c.cfg
	s := c.act.Size()
	qd, kvd := cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	for _, b := range []backend.Buffer{c.ids, c.x, c.xb, c.h, c.proj, c.ffo, c.q, c.att, c.k, c.v, c.gate, c.up, c.logits} {
		if b != nil {
			c.be.Free(b)
		}
	}
	var err error
	alloc := func(n int) backend.Buffer {
		if err != nil {
			return nil
		}
		var b backend.Buffer
		b, err = c.be.Alloc(n)
		return b
	}
	c.ids = alloc(4 * (T + 1))
	c.x, c.xb, c.h, c.proj, c.ffo = alloc(T*cfg.Dim*s), alloc(T*cfg.Dim*s), alloc(T*cfg.Dim*s), alloc(T*cfg.Dim*s), alloc(T*cfg.Dim*s)
	c.q, c.att = alloc(T*qd*s), alloc(T*qd*s)
	c.k, c.v = alloc(T*kvd*s), alloc(T*kvd*s)
	c.gate, c.up = alloc(T*cfg.FF*s), alloc(T*cfg.FF*s)
	c.logits = alloc(T * cfg.Vocab * 4)
	if err != nil {
		c.bufT = 0
		return fmt.Errorf("reference: activations for %d positions: %w", T, err)
	}
	c.bufT = T
	return nil
}
