package llamacpp

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/metallic-go/metallic/model"
)

// Path runs a model through llama.cpp. It implements model.Path. A Path is
// not safe for concurrent use.
type Path struct {
	l      *lib
	cfg    model.Config
	opts   Options
	model  unsafe.Pointer // struct llama_model *
	ctx    unsafe.Pointer // struct llama_context *
	vocab  *Vocab
	b      batch
	nVocab int
	n      int // positions in the KV cache
	id     uintptr
	hook   model.Hook
	cap    *capture
	trace  *[]GraphNode // set by Trace
}

// paths maps the eval callback's user data to its Path.
var paths struct {
	mu   sync.Mutex
	next uintptr
	m    map[uintptr]*Path
}

func init() {
	model.RegisterPath("llamacpp", func(m *model.Model, opts model.PathOptions) (model.Path, error) {
		p, err := New(m, Options{PathOptions: opts})
		if err != nil {
			return nil, err
		}
		return p, nil
	})
}

// New loads m's file into llama.cpp (CPU backend; flash attention as
// opts.FlashAttn says, off by default; KV cache in model.KVDTypeOf(opts))
// and creates a context of opts.Ctx positions.
func New(m *model.Model, opts Options) (*Path, error) {
	if m == nil {
		return nil, errors.New("llamacpp: nil model")
	}
	if err := model.CheckFlashAttn("llamacpp", opts.PathOptions); err != nil {
		return nil, err
	}
	return newPath(m.Path, &m.Config, opts)
}

func newPath(file string, cfg *model.Config, opts Options) (*Path, error) {
	l, err := load(opts.libDir())
	if err != nil {
		return nil, err
	}
	if opts.Ctx, err = model.ContextSize(cfg, opts.PathOptions); err != nil {
		return nil, fmt.Errorf("llamacpp: %w", err)
	}
	opts = opts.resolved(cfg)
	if opts.Backend != "cpu" {
		return nil, fmt.Errorf("llamacpp: backend %q is not available (the pinned build runs on ggml's CPU backend only)", opts.Backend)
	}
	switch opts.ActDType {
	case "f32", "f16":
	default:
		return nil, fmt.Errorf("llamacpp: activation dtype %q (want f32 or f16)", opts.ActDType)
	}
	typeKV := int32(ggmlTypeF32)
	switch opts.KVDType {
	case "f32":
	case "f16":
		typeKV = ggmlTypeF16
	default:
		return nil, fmt.Errorf("llamacpp: KV cache dtype %q (want f32 or f16)", opts.KVDType)
	}
	if opts.Ctx > 1<<20 || opts.Threads > 1024 {
		return nil, fmt.Errorf("llamacpp: ctx %d or threads %d out of range", opts.Ctx, opts.Threads)
	}

	p := &Path{l: l, cfg: *cfg, opts: opts}
	mp := l.modelDefaultParams()
	mp.NGPULayers = 0
	mp.SplitMode = splitModeNone
	clearLog()
	p.model = l.modelLoadFromFile(file, mp)
	if p.model == nil {
		return nil, fmt.Errorf("llamacpp: llama.cpp could not load %s%s", file, recentLog())
	}
	p.vocab = &Vocab{l: l, v: l.modelGetVocab(p.model)}
	p.nVocab = int(l.vocabNTokens(p.vocab.v))
	if d, nl := int(l.modelNEmbd(p.model)), int(l.modelNLayer(p.model)); d != cfg.Dim || nl != cfg.Layers || p.nVocab != cfg.Vocab {
		l.modelFree(p.model)
		return nil, fmt.Errorf("llamacpp: llama.cpp reads %s as d=%d layers=%d vocab=%d, our config says d=%d layers=%d vocab=%d",
			file, d, nl, p.nVocab, cfg.Dim, cfg.Layers, cfg.Vocab)
	}

	paths.mu.Lock()
	if paths.m == nil {
		paths.m = map[uintptr]*Path{}
	}
	paths.next++
	p.id = paths.next
	paths.m[p.id] = p
	paths.mu.Unlock()

	cp := l.contextDefaultParams()
	cp.NCtx = uint32(opts.Ctx)
	cp.NBatch = uint32(opts.Batch)
	cp.NUbatch = uint32(opts.Batch)
	cp.NSeqMax = 1
	cp.NThreads = int32(opts.Threads)
	cp.NThreadsBatch = int32(opts.Threads)
	if !opts.LlamaDefaults {
		// Else llama_context_default_params's values stay (checked at
		// load: f16, f16, auto).
		cp.FlashAttnType = flashAttnDisabled
		if opts.FlashAttn {
			cp.FlashAttnType = flashAttnEnabled
		}
		cp.TypeK, cp.TypeV = typeKV, typeKV
	}
	cp.CbEval = evalCallback()
	cp.CbEvalUserData = p.id
	cp.NoPerf = true
	p.ctx = l.initFromModel(p.model, cp)
	if p.ctx == nil {
		p.Close()
		return nil, fmt.Errorf("llamacpp: llama_init_from_model failed for %s (ctx %d, batch %d)%s", file, opts.Ctx, opts.Batch, recentLog())
	}
	p.b = l.batchInit(int32(opts.Batch), 0, 1)
	if p.b.Token == nil {
		p.Close()
		return nil, errors.New("llamacpp: llama_batch_init failed")
	}
	return p, nil
}

// Name returns "llamacpp".
func (p *Path) Name() string { return "llamacpp" }

// Numerics returns model.NumericsLlamaCpp: llama.cpp computes with its own
// kernels, so PathOptions.Numerics does not apply to it.
func (p *Path) Numerics() string { return model.NumericsLlamaCpp }

// Config returns the model's hyper-parameters.
func (p *Path) Config() *model.Config { return &p.cfg }

// Options returns the options in effect, defaults filled in.
func (p *Path) Options() Options { return p.opts }

// Engine returns llama.cpp's configuration as the path runs it: the build,
// the libggml-cpu variant, the KV-cache type, flash attention, threads,
// context and batch.
func (p *Path) Engine() model.Engine {
	v, _ := CPUVariant()
	return model.Engine{Name: "llama.cpp", Build: fmt.Sprintf("%s (ggml %s, %s)", PinLlamaVersion, PinGGMLVersion, PinGGMLCommit),
		CPUVariant: v, KV: p.opts.KVDType, FlashAttn: p.opts.FlashAttn, Threads: p.opts.Threads, Ctx: p.opts.Ctx, Batch: p.opts.Batch}
}

// Vocab returns llama.cpp's tokenizer of the loaded model. It is valid
// until Close.
func (p *Path) Vocab() *Vocab { return p.vocab }

// Forward runs tokens at positions pos… through llama_decode with logits
// requested for every position, and returns them row-major
// [len(tokens), Vocab] exactly as llama_get_logits_ith gives them. Calls
// longer than Options.Batch are split into several llama_decode calls.
// When the hook panics or a checkpoint cannot be captured, the decode still
// completes (its positions stay in the cache) and Forward returns the error.
func (p *Path) Forward(tokens []int32, pos int) ([]float32, error) {
	if p.ctx == nil {
		return nil, errors.New("llamacpp: path is closed")
	}
	if len(tokens) == 0 {
		return nil, errors.New("llamacpp: Forward with no tokens")
	}
	if pos != p.n {
		return nil, fmt.Errorf("llamacpp: Forward at position %d, but the cache holds %d positions", pos, p.n)
	}
	if p.n+len(tokens) > p.opts.Ctx {
		return nil, model.ContextFull("llamacpp", p.n, len(tokens), p.opts.Ctx)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= p.nVocab {
			return nil, fmt.Errorf("llamacpp: token %d at index %d is out of range [0, %d)", t, i, p.nVocab)
		}
	}
	out := make([]float32, 0, len(tokens)*p.nVocab)
	for start := 0; start < len(tokens); start += p.opts.Batch {
		chunk := tokens[start:min(start+p.opts.Batch, len(tokens))]
		rows, err := p.decode(chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// decode runs one llama_decode over chunk at position p.n.
func (p *Path) decode(chunk []int32) ([]float32, error) {
	T := len(chunk)
	tok := unsafe.Slice((*int32)(p.b.Token), T)
	pos := unsafe.Slice((*int32)(p.b.Pos), T)
	nseq := unsafe.Slice((*int32)(p.b.NSeqID), T)
	seq := unsafe.Slice((*unsafe.Pointer)(p.b.SeqID), T)
	logits := unsafe.Slice((*int8)(p.b.Logits), T)
	for i, t := range chunk {
		tok[i] = t
		pos[i] = int32(p.n + i)
		nseq[i] = 1
		*(*int32)(seq[i]) = 0
		logits[i] = 1
	}
	b := p.b
	b.NTokens = int32(T)
	if p.hook != nil {
		p.cap = newCapture(p, T)
	}
	clearLog()
	rc := p.l.decode(p.ctx, b)
	c := p.cap
	p.cap = nil
	if rc != 0 {
		// A failed decode may leave partial entries in the cache.
		p.Reset()
		return nil, fmt.Errorf("llamacpp: llama_decode returned %d%s", rc, recentLog())
	}
	p.n += T
	if c != nil && c.err != nil {
		return nil, c.err
	}
	out := make([]float32, T*p.nVocab)
	for i := range T {
		row := p.l.getLogitsIth(p.ctx, int32(i))
		if row == nil {
			return nil, fmt.Errorf("llamacpp: llama_get_logits_ith(%d) returned NULL%s", i, recentLog())
		}
		copy(out[i*p.nVocab:(i+1)*p.nVocab], unsafe.Slice((*float32)(row), p.nVocab))
	}
	return out, nil
}

// Reset empties the KV cache (llama_memory_clear with data).
func (p *Path) Reset() {
	if p.ctx != nil {
		p.l.memoryClear(p.l.getMemory(p.ctx), true)
	}
	p.n = 0
}

// SetHook installs h (nil removes it); see Checkpoints for what it sees.
func (p *Path) SetHook(h model.Hook) { p.hook = h }

// Close frees the context and the model. It is safe to call twice.
func (p *Path) Close() error {
	if p.b.Token != nil {
		p.l.batchFree(p.b)
		p.b = batch{}
	}
	if p.ctx != nil {
		p.l.free(p.ctx)
		p.ctx = nil
	}
	if p.model != nil {
		p.l.modelFree(p.model)
		p.model = nil
	}
	if p.id != 0 {
		paths.mu.Lock()
		delete(paths.m, p.id)
		paths.mu.Unlock()
		p.id = 0
	}
	return nil
}
