package cuda

import (
	"fmt"
	"sort"
	"strings"

	"github.com/metallic-go/metallic/backend"
)

// kernel is a loaded kernel.
type kernel struct {
	b     *Backend
	name  string // KernelSpec.Name
	label string // name with its specialization, for messages and profiles
	fn    handle
	// shape gives a built-in op's launch configuration; nil for composed
	// kernels, which run one block of threads threads per work item.
	shape   func(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int)
	threads int
	shared  int
	sig     string      // argument kinds of a built-in op ("" for composed)
	params  []paramSlot // the driver's parameter list (nil when unknown)
	static  int         // static shared memory of the function
	// fnThreads is the most threads per block the compiled function can
	// run (its register use may allow fewer than the device).
	fnThreads int
	// sharedMax is the dynamic shared memory the function may use now
	// (raised with cuFuncSetAttribute on demand).
	sharedMax int
}

// Name is KernelSpec.Name.
func (k *kernel) Name() string { return k.name }

func (k *kernel) String() string { return "cuda.kernel(" + k.label + ")" }

// Load prepares a kernel. A built-in op (spec without sources or CPU
// function) is the hand-written CUDA kernel of builtin(spec), under the
// plain numerics profile only. A composed kernel runs spec.CUDA's
// spec.Entry with spec.Threads threads per block and spec.SharedBytes of
// dynamic shared memory, one block per work item.
func (b *Backend) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	if err := b.checkOpen("Load"); err != nil {
		return nil, err
	}
	if spec.CUDA == "" && spec.MSL == "" && spec.CPU == nil {
		return b.loadBuiltin(spec)
	}
	if spec.CUDA == "" {
		return nil, fmt.Errorf("cuda: kernel %q has no CUDA source", spec.Name)
	}
	return b.loadComposed(spec)
}

// builtinLabel names a built-in op with its specialization:
// "matmul[Q4_0 f16→f32]".
func builtinLabel(spec backend.KernelSpec) string {
	w := spec.Weight
	return fmt.Sprintf("%s[%v %v→%v kv %v]", spec.Name, w, spec.In, spec.Out, spec.KV)
}

func (b *Backend) loadBuiltin(spec backend.KernelSpec) (backend.Kernel, error) {
	if spec.Numerics != "" && spec.Numerics != backend.Plain {
		return nil, fmt.Errorf("cuda: numerics %s is not implemented (have plain)", spec.Numerics)
	}
	sig, ok := builtinSigs[spec.Name]
	if !ok {
		var have []string
		for op := range builtinSigs {
			have = append(have, op)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("cuda: unknown built-in op %q (have %s)", spec.Name, strings.Join(have, ", "))
	}
	label := builtinLabel(spec)
	bk, err := builtin(spec)
	if err != nil {
		if strings.HasPrefix(err.Error(), "cuda: ") {
			return nil, err
		}
		return nil, fmt.Errorf("cuda: %s: %w", label, err)
	}
	if bk.Shape == nil || bk.Entry == "" || bk.Source == "" {
		return nil, fmt.Errorf("cuda: %s: the built-in kernel lacks its source, entry or shape", label)
	}
	k := &kernel{b: b, name: spec.Name, label: label, shape: bk.Shape, sig: sig}
	if err := b.prepare(k, bk.Source, bk.Entry); err != nil {
		return nil, err
	}
	return k, nil
}

func (b *Backend) loadComposed(spec backend.KernelSpec) (backend.Kernel, error) {
	label := spec.Name
	info := b.dev.info
	switch {
	case spec.Entry == "":
		return nil, fmt.Errorf("cuda: kernel %s: no entry function", label)
	case spec.Threads <= 0:
		return nil, fmt.Errorf("cuda: kernel %s: %d threads per block (want 1…%d)", label, spec.Threads, info.maxThreads)
	case spec.Threads > info.maxThreads || spec.Threads > info.maxBlock[0]:
		return nil, fmt.Errorf("cuda: kernel %s: %d threads per block, but %s allows at most %d", label, spec.Threads, info.name, min(info.maxThreads, info.maxBlock[0]))
	case spec.SharedBytes < 0:
		return nil, fmt.Errorf("cuda: kernel %s: negative shared memory %d", label, spec.SharedBytes)
	}
	k := &kernel{b: b, name: spec.Name, label: label, threads: spec.Threads, shared: spec.SharedBytes}
	if err := b.prepare(k, spec.CUDA, spec.Entry); err != nil {
		return nil, err
	}
	if spec.Threads > k.fnThreads {
		return nil, fmt.Errorf("cuda: kernel %s: %d threads per block, but the compiled kernel can run at most %d (register use)", label, spec.Threads, k.fnThreads)
	}
	if err := k.ensureShared(spec.SharedBytes); err != nil {
		return nil, err
	}
	return k, nil
}

// prepare compiles (or finds) the kernel's function and reads its static
// shared memory and parameter list.
func (b *Backend) prepare(k *kernel, src, entry string) error {
	fn, err := b.dev.function(k.label, src, entry)
	if err != nil {
		return err
	}
	k.fn = fn
	return b.drv.run(func() error {
		static, err := b.drv.funcAttr(fn, attrSharedSizeBytes)
		if err != nil {
			return fmt.Errorf("cuda: kernel %s: %w", k.label, err)
		}
		k.static = static
		k.sharedMax = max(defaultSharedLimit-static, 0)
		if k.fnThreads, err = b.drv.funcAttr(fn, attrMaxThreadsPerBlock); err != nil {
			return fmt.Errorf("cuda: kernel %s: %w", k.label, err)
		}
		params, ok, err := b.drv.paramInfo(fn)
		if err != nil {
			return fmt.Errorf("cuda: kernel %s: reading its parameters: %w", k.label, err)
		}
		if ok {
			k.params = params
		}
		return nil
	})
}

// ensureShared lets the kernel use n bytes of dynamic shared memory,
// opting in past the default 48 KiB where the device allows it.
func (k *kernel) ensureShared(n int) error {
	if n <= k.sharedMax {
		return nil
	}
	info := k.b.dev.info
	if k.static+n > info.maxSharedOptin {
		return fmt.Errorf("cuda: kernel %s: %d bytes of dynamic shared memory (+%d static) exceed the %d bytes a block may use on %s", k.label, n, k.static, info.maxSharedOptin, info.name)
	}
	err := k.b.drv.run(func() error { return k.b.drv.setFuncAttr(k.fn, attrMaxDynamicSharedMem, n) })
	if err != nil {
		return fmt.Errorf("cuda: kernel %s: allowing %d bytes of dynamic shared memory: %w", k.label, n, err)
	}
	k.sharedMax = n
	return nil
}
