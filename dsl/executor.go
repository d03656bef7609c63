package dsl

import (
	"embed"
	"fmt"
	"strings"
	"unsafe"

	"github.com/metallic-go/metallic/backend"
	_ "github.com/metallic-go/metallic/backend/cpu" // the default backend
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/infile"
	"github.com/metallic-go/metallic/model"
)

//go:embed specs/*.json
var specFS embed.FS

// EmbeddedSpec returns the embedded spec of an architecture.
func EmbeddedSpec(arch string) ([]byte, error) {
	data, err := specFS.ReadFile("specs/" + arch + ".json")
	if err != nil {
		return nil, fmt.Errorf("dsl: no embedded spec for architecture %q", arch)
	}
	return data, nil
}

func init() {
	model.RegisterPath("dsl", func(m *model.Model, opts model.PathOptions) (model.Path, error) {
		return New(m, Options{PathOptions: opts, Fault: testFault.Load()})
	})
}

// Options configure the executor. Spec (or else PathOptions.Spec) is a
// spec file; both empty means the embedded spec of the model's
// architecture. PathOptions.Numerics selects the profile (empty: the
// backend's default, backend.SelectNumerics): under ggml-cpu the GEMV
// inputs are rounded as llama.cpp (and the reference path) round
// activations for the weight's dot product (kernel.Gemv.Round), in the
// CPU twin and the generated MSL and CUDA alike; under plain they are
// multiplied as stored. The rest of the dsl's arithmetic is the same
// under both.
type Options struct {
	model.PathOptions
	Spec string
	// Fault injects a test-only defect (see Fault); nil in every real run.
	Fault *Fault
}

// Executor runs a compiled spec over a model: the dsl path.
type Executor struct {
	m           *model.Model
	spec        *Spec
	be          backend.Backend
	num         backend.Numerics
	act         kernel.Type
	kv          kernel.Type // KV-cache storage
	ctx         int
	vars        map[string]any
	weights     map[string]*model.Weight
	wbufs       map[string]backend.Buffer
	acts        map[string]*Act
	caches      map[string]*Act
	kernels     map[uint64]*Loaded
	kernelOrder []*Loaded
	ops         []*Op
	round       bool
	dispatch    map[string]backend.Arg // "$name" of every int/float spec variable
	// io is the vars buffer (kernel.VarsHeader int32 slots: the call's
	// position, its token count) followed by the call's token ids: one
	// upload per forward call.
	io      backend.Buffer
	ioHost  []int32
	capRows int
	// bound caches each op's argument list per token count: positions
	// live in io, so the arguments of a forward call depend on its token
	// count only (and a decode step's launches repeat byte for byte).
	bound    map[int][][]backend.Arg
	n        int // positions in the cache
	hook     model.Hook
	logits   *Act
	graph    *model.Graph    // the model's checkpoint graph
	emitted  map[string]bool // full checkpoint names materialized by the program
	unrolled int             // steps and repeat iterations compiled so far (MaxUnrolledSteps)
	unfuse   bool            // PathOptions.Unfuse: composed kernels run stage by stage
	stages   []model.Stage   // the stage checkpoints of an unfused program
	fault    *Fault          // a test-only defect (Options.Fault)
	// head is the index of the op a ForwardLast call runs on the last row
	// alone, -1 when there is none (findHead).
	head    int
	lastRow []float32 // ForwardLast's logits, reused
}

// findHead returns the index of the op that produces the logits when it
// is the program's last op and honours Run.Row0 (Op.LastRow), else -1.
func (e *Executor) findHead() int {
	n := len(e.ops)
	if n == 0 || !e.ops[n-1].LastRow {
		return -1
	}
	for _, c := range e.ops[n-1].Checkpoints {
		if c.Buf == e.logits {
			return n - 1
		}
	}
	return -1
}

// New compiles the spec (opts.Spec or the embedded one) for m on the
// chosen backend.
func New(m *model.Model, opts Options) (*Executor, error) {
	file := opts.Spec
	if file == "" {
		file = opts.PathOptions.Spec
	}
	data, err := specData(m, file)
	if err != nil {
		return nil, err
	}
	spec, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return newFromSpec(m, spec, opts)
}

// newFromSpec compiles a parsed spec for m.
func newFromSpec(m *model.Model, spec *Spec, opts Options) (*Executor, error) {
	if spec.Architecture != m.Config.Arch {
		return nil, specErr("architecture", "spec is for %q, model is %q", spec.Architecture, m.Config.Arch)
	}
	if err := model.CheckFlashAttn("dsl", opts.PathOptions); err != nil {
		return nil, err
	}
	if err := kernel.SIMDEnvError(); err != nil {
		return nil, err
	}
	dt, err := backend.ParseDType(opts.ActDType)
	if err != nil {
		return nil, err
	}
	kv, err := backend.ParseDType(model.KVDTypeOf(opts.PathOptions))
	if err != nil {
		return nil, fmt.Errorf("dsl: KV cache: %w", err)
	}
	ctx, err := model.ContextSize(&m.Config, opts.PathOptions)
	if err != nil {
		return nil, fmt.Errorf("dsl: %w", err)
	}
	be, err := backend.OpenOptions(opts.Backend, opts.BackendOptions())
	if err != nil {
		return nil, err
	}
	// The composed kernels carry their own arithmetic, but the profile is
	// still one the backend must implement: a GPU backend has no ggml-cpu.
	num, err := backend.SelectNumerics(be, opts.Numerics)
	if err != nil {
		be.Close()
		return nil, fmt.Errorf("dsl: %w", err)
	}
	e := &Executor{m: m, spec: spec, be: be, num: num, act: kernel.ActType(dt == backend.F16), kv: kernel.ActType(kv == backend.F16),
		vars: map[string]any{}, weights: map[string]*model.Weight{}, wbufs: map[string]backend.Buffer{},
		acts: map[string]*Act{}, caches: map[string]*Act{}, kernels: map[uint64]*Loaded{},
		graph: model.NewGraph(&m.Config), emitted: map[string]bool{}, unfuse: opts.Unfuse, fault: opts.Fault}
	e.round = num == backend.GGMLCPU
	e.ctx = ctx
	for name, v := range spec.Variables {
		if v.From != "" {
			e.vars[name] = sourceValue(&m.Config, v.From)
		} else {
			e.vars[name] = v.Value
		}
	}
	e.dispatch = map[string]backend.Arg{}
	for name, v := range e.vars {
		switch x := v.(type) {
		case int:
			e.dispatch["$"+name] = backend.Int(x)
		case float64:
			e.dispatch["$"+name] = backend.Float(float32(x))
		}
	}
	e.indexWeights()
	if err := e.compile(spec.Forward, map[string]int{}, -1); err != nil {
		be.Close()
		return nil, err
	}
	if e.logits == nil {
		be.Close()
		return nil, specErr("forward", "no step produces the logits checkpoint")
	}
	if err := e.checkOrder(); err != nil {
		be.Close()
		return nil, err
	}
	e.head = e.findHead()
	return e, nil
}

// MaxSpecBytes is the largest spec file New reads (the embedded specs are
// a few kilobytes); a larger one, a named pipe or a device is refused.
const MaxSpecBytes = 4 << 20

func specData(m *model.Model, file string) ([]byte, error) {
	if file == "" {
		return EmbeddedSpec(m.Config.Arch)
	}
	data, err := infile.ReadFile(file, MaxSpecBytes)
	if err != nil {
		return nil, fmt.Errorf("dsl: reading spec: %w", err)
	}
	return data, nil
}

func (e *Executor) indexWeights() {
	add := func(w *model.Weight) {
		if w.Data != nil && w.Name != "" {
			e.weights[w.Name] = w
		}
	}
	ws := &e.m.Weights
	add(&ws.Embd)
	add(&ws.OutputNorm)
	add(&ws.Output)
	for i := range ws.Layers {
		l := &ws.Layers[i]
		for _, w := range []*model.Weight{&l.AttnNorm, &l.Q, &l.K, &l.V, &l.QBias, &l.KBias, &l.VBias,
			&l.QNorm, &l.KNorm, &l.O, &l.FFNNorm, &l.Gate, &l.Up, &l.Down} {
			add(w)
		}
	}
}

// repeatDef declares the field of a repeat that compile reads.
var repeatDef = StepDef{Fields: []Field{{Name: "count", Kind: FInt}}}

// MaxRepeat is the largest count of one repeat step, and MaxUnrolledSteps
// the most steps a whole spec unrolls to, counting every step of every
// repeat iteration, nested ones multiplied out, and every iteration itself
// (a real model's spec unrolls to a few thousand).
const (
	MaxRepeat        = 1 << 12
	MaxUnrolledSteps = 1 << 14
)

func (e *Executor) compile(steps []*Step, loops map[string]int, layer int) error {
	for _, st := range steps {
		b := &Build{e: e, step: st, loops: loops, Layer: layer}
		if e.unrolled++; e.unrolled > MaxUnrolledSteps {
			return b.Errorf("op", "the spec unrolls to more than %d steps (nested repeats multiply their counts)", MaxUnrolledSteps)
		}
		if st.Op == "repeat" {
			b.def = &repeatDef
			st.Fields["count"] = st.Count
			n, err := b.Int("count")
			if err != nil {
				return err
			}
			if n < 0 || n > MaxRepeat {
				return b.Errorf("count", "repeat count %d out of range [0, %d]", n, MaxRepeat)
			}
			for i := 0; i < n; i++ {
				if e.unrolled++; e.unrolled > MaxUnrolledSteps {
					return b.Errorf("count", "the spec unrolls to more than %d steps: this repeat of %d reaches the cap at iteration %d (nested repeats multiply their counts)", MaxUnrolledSteps, n, i)
				}
				inner := map[string]int{st.Var: i}
				for k, v := range loops {
					inner[k] = v
				}
				if err := e.compile(st.Steps, inner, i); err != nil {
					return err
				}
			}
			continue
		}
		def := stepDefs[st.Op]
		b.def = &def
		err := def.Build(b)
		if b.err != nil {
			return b.err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Name returns "dsl", or "dsl-unfused" (model.UnfusedSuffix) when the
// executor runs its kernels stage by stage.
func (e *Executor) Name() string {
	if e.unfuse {
		return "dsl" + model.UnfusedSuffix
	}
	return "dsl"
}

// Numerics returns the profile the executor computes under: "plain" or
// "ggml-cpu".
func (e *Executor) Numerics() string { return string(e.num) }

// Config returns the model's hyper-parameters.
func (e *Executor) Config() *model.Config { return &e.m.Config }

// Reset empties the KV cache.
func (e *Executor) Reset() { e.n = 0 }

// SetHook installs h (nil removes it).
func (e *Executor) SetHook(h model.Hook) { e.hook = h }

// Kernels lists the distinct composed kernels the compiled program
// dispatches, in the order they were composed.
func (e *Executor) Kernels() []*kernel.Kernel {
	used := map[*Loaded]bool{}
	for _, op := range e.ops {
		used[op.L] = true
		if op.Prefill != nil {
			used[op.Prefill] = true
		}
	}
	var out []*kernel.Kernel
	for _, l := range e.kernelOrder {
		if used[l] {
			out = append(out, l.K)
		}
	}
	return out
}

// Checkpoints lists the checkpoint kinds the compiled program
// materializes, in execution order.
func (e *Executor) Checkpoints() []string {
	seen := map[string]bool{}
	var out []string
	for _, op := range e.ops {
		for _, c := range op.Checkpoints {
			if !c.Stage && !seen[c.Kind] {
				seen[c.Kind] = true
				out = append(out, c.Kind)
			}
		}
	}
	return out
}

// checkOrder checks that the program materializes its checkpoint kinds in
// the order of the checkpoint graph.
func (e *Executor) checkOrder() error {
	kinds := e.graph.Kinds()
	i := 0
	for _, k := range e.Checkpoints() {
		for i < len(kinds) && kinds[i] != k {
			i++
		}
		if i == len(kinds) {
			return specErr("forward", "checkpoints materialized in the order %s, not in the order of the checkpoint graph (%s)",
				strings.Join(e.Checkpoints(), ", "), strings.Join(kinds, ", "))
		}
	}
	return nil
}

// Close releases the backend.
func (e *Executor) Close() error { return e.be.Close() }

func (e *Executor) ensure(rows int) error {
	if rows <= e.capRows {
		return nil
	}
	for _, a := range e.acts {
		if a.Buf != nil {
			e.be.Free(a.Buf)
		}
		buf, err := e.be.Alloc(rows*a.Width*elemSize(a.Elem) + e.slack())
		if err != nil {
			return err
		}
		a.Buf, a.Rows = buf, rows
	}
	if e.io != nil {
		e.be.Free(e.io)
	}
	io, err := e.be.Alloc(4 * (kernel.VarsHeader + rows))
	if err != nil {
		return err
	}
	e.io = io
	e.capRows = rows
	e.bound = nil
	return nil
}

// PrefillTokens is the token count from which a forward call runs the
// tiled GEMM form of the projections (kernel.Gemv.Tiled), where the
// spec's step provides one (not under ggml-cpu, whose input rounding the
// tiled form does not do); shorter calls, decode steps among them, run
// the GEMV form.
const PrefillTokens = 4

// kernelFor returns the kernel op runs for a call of T tokens.
func (op *Op) kernelFor(T int) *Loaded {
	if op.Prefill != nil && T >= PrefillTokens {
		return op.Prefill
	}
	return op.L
}

// run returns how op runs in a call of T tokens: its token count and
// first input row (the head of a last-row call runs one row, T-1).
func (e *Executor) run(i, T int, last bool) Run {
	if last && i == e.head {
		return Run{T: 1, Row0: T - 1}
	}
	return Run{T: T}
}

// args returns every op's argument list for a call of T tokens (with
// last, the head's on the last row alone).
func (e *Executor) args(T int, last bool) ([][]backend.Arg, error) {
	key := T
	if last {
		key = -T
	}
	if a, ok := e.bound[key]; ok {
		return a, nil
	}
	if e.bound == nil || len(e.bound) >= 8 {
		e.bound = map[int][][]backend.Arg{}
	}
	all := make([][]backend.Arg, len(e.ops))
	for i, op := range e.ops {
		r := e.run(i, T, last)
		bd := op.Bind(&r)
		for k, v := range e.dispatch {
			bd[k] = v
		}
		for k, v := range op.vars {
			bd[k] = v
		}
		if f := op.shift; f != nil {
			a := bd[f.Arg]
			a.Off += f.Shift
			bd[f.Arg] = a
		}
		bd["$tokens"], bd["$vars"] = backend.Int(r.T), backend.Buf(e.io)
		args, err := op.kernelFor(r.T).K.Bind(bd)
		if err != nil {
			return nil, err
		}
		all[i] = args
	}
	e.bound[key] = all
	return all, nil
}

// Forward runs tokens at positions pos… and returns their logits.
func (e *Executor) Forward(tokens []int32, pos int) ([]float32, error) {
	return e.forward(tokens, pos, false)
}

// ForwardLast is Forward returning only the last position's logits
// [Vocab] (model.LastForwarder). Without a hook, and when the op
// producing the logits is the program's last and honours Run.Row0
// (Op.LastRow: the embedded specs' rmsnorm_gemv), that op runs on the
// last token alone and one row is downloaded into a slice the executor
// reuses (valid until its next call); otherwise it is Forward, cut to the
// last row.
func (e *Executor) ForwardLast(tokens []int32, pos int) ([]float32, error) {
	if e.hook != nil || e.head < 0 {
		logits, err := e.forward(tokens, pos, false)
		if err != nil {
			return nil, err
		}
		return append([]float32(nil), logits[(len(tokens)-1)*e.logits.Width:]...), nil
	}
	return e.forward(tokens, pos, true)
}

func (e *Executor) forward(tokens []int32, pos int, last bool) ([]float32, error) {
	T := len(tokens)
	if T == 0 {
		return nil, fmt.Errorf("dsl: no tokens")
	}
	if pos != e.n {
		return nil, fmt.Errorf("dsl: position %d, but the cache holds %d", pos, e.n)
	}
	if pos+T > e.ctx {
		return nil, model.ContextFull("dsl", pos, T, e.ctx)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= e.m.Config.Vocab {
			return nil, fmt.Errorf("dsl: token %d out of range [0, %d)", t, e.m.Config.Vocab)
		}
	}
	if err := e.ensure(T); err != nil {
		return nil, err
	}
	// One upload: the vars header, then the token ids.
	e.ioHost = append(e.ioHost[:0], make([]int32, kernel.VarsHeader)...)
	e.ioHost[kernel.VarPos], e.ioHost[kernel.VarTokens] = int32(pos), int32(T)
	e.ioHost = append(e.ioHost, tokens...)
	if err := e.be.Upload(e.io, 0, unsafe.Slice((*byte)(unsafe.Pointer(&e.ioHost[0])), 4*len(e.ioHost))); err != nil {
		return nil, err
	}
	all, err := e.args(T, last)
	if err != nil {
		return nil, err
	}
	enc := e.be.Begin()
	for i, op := range e.ops {
		r := e.run(i, T, last)
		if op.Skip == nil || !op.Skip(r) {
			l := op.kernelFor(r.T)
			enc.Dispatch(l.B, l.K.Grid(r.T), all[i]...)
		}
		if e.hook != nil && len(op.Checkpoints) > 0 {
			if err := enc.Commit(); err != nil {
				return nil, err
			}
			for _, c := range op.Checkpoints {
				if err := e.capture(c, T, pos); err != nil {
					return nil, err
				}
			}
			enc = e.be.Begin()
		}
	}
	if err := enc.Commit(); err != nil {
		return nil, err
	}
	if err := e.be.Sync(); err != nil {
		return nil, err
	}
	var out []float32
	if last {
		// One row, downloaded into a buffer the executor reuses.
		if e.lastRow == nil {
			e.lastRow = make([]float32, e.logits.Width)
		}
		out = e.lastRow
	} else {
		out = make([]float32, T*e.logits.Width)
	}
	if err := e.be.Download(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)), e.logits.Buf, 0); err != nil {
		return nil, err
	}
	e.n += T
	return out, nil
}

// capture hands a checkpoint to the hook and writes back what it changed
// (rounded to the storage dtype), so perturbations propagate.
func (e *Executor) capture(c Checkpoint, T, pos int) error {
	row0 := 0
	if c.Cache {
		row0 = pos
	}
	a := c.Buf
	n := T * a.Width
	size := elemSize(a.Elem)
	raw := make([]byte, n*size)
	off := row0 * a.Width * size
	if err := e.be.Download(raw, a.Buf, off); err != nil {
		return err
	}
	data := make([]float32, n)
	if a.Elem == kernel.Half {
		for i := range data {
			data[i] = gguf.F16ToF32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	} else {
		copy(data, unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n))
	}
	t := &model.Tensor{Name: model.CheckpointName(c.Kind, c.Layer), Layer: c.Layer, Pos: pos,
		Rows: T, Cols: a.Width, Data: data}
	e.hook(t)
	if a.Elem == kernel.Half {
		for i, v := range t.Data {
			h := gguf.F32ToF16(v)
			raw[2*i], raw[2*i+1] = byte(h), byte(h>>8)
		}
	} else {
		copy(unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n), t.Data)
	}
	return e.be.Upload(a.Buf, off, raw)
}
