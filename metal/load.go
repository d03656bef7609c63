package metal

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// kernel is a loaded kernel: its pipeline, how its arguments bind, and
// how a dispatch is launched.
type kernel struct {
	b     *Backend
	name  string // KernelSpec.Name
	label string // name with its specialization, for messages and profiles
	entry string
	pipe  *pipeline
	args  argLayout
	// shape gives a built-in op's launch; nil for composed kernels, which
	// run one threadgroup of threads threads per work item with tgMem
	// bytes of dynamic threadgroup memory.
	shape   func(g backend.Grid, args []backend.Arg) launchShape
	threads int
	tgMem   int
	// tgIndex is the [[threadgroup(i)]] index of the kernel's dynamic
	// threadgroup memory; hasTG is false when it takes none.
	tgIndex int
	hasTG   bool
}

// Name is KernelSpec.Name.
func (k *kernel) Name() string { return k.name }

func (k *kernel) String() string { return "metal.kernel(" + k.label + ")" }

// Load prepares a kernel. A built-in op (spec without sources or CPU
// function) is the hand-written MSL kernel of builtin(spec), under the
// plain numerics profile only. A composed kernel runs spec.MSL's
// spec.Entry with spec.Threads threads per threadgroup and
// spec.SharedBytes of dynamic threadgroup memory, one threadgroup per
// work item. Either way the kernel's parameters are read from its source
// and checked against how the backend binds arguments, and the compiled
// pipeline against the launch: its SIMD width must be 32 and its
// maxTotalThreadsPerThreadgroup must allow the threadgroup.
func (b *Backend) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	if err := b.checkOpen("Load"); err != nil {
		return nil, err
	}
	if spec.CUDA == "" && spec.MSL == "" && spec.CPU == nil {
		return b.loadBuiltin(spec)
	}
	if spec.MSL == "" {
		return nil, fmt.Errorf("metal: kernel %q has no MSL source", spec.Name)
	}
	return b.loadComposed(spec)
}

func (b *Backend) loadBuiltin(spec backend.KernelSpec) (backend.Kernel, error) {
	bk, err := builtin(spec)
	if err != nil {
		return nil, err
	}
	label := builtinLabel(spec)
	sig, err := parseKernel(bk.Source, bk.Entry)
	if err != nil {
		return nil, fmt.Errorf("metal: %s: %w", label, err)
	}
	walign := 2 // weight blocks are read with 2-byte loads
	if spec.Weight == gguf.TypeF32 {
		walign = 4
	}
	layout, err := builtinLayout(sig, bk.Sig, walign)
	if err != nil {
		return nil, fmt.Errorf("metal: %s: %w", label, err)
	}
	k := &kernel{b: b, name: spec.Name, label: label, entry: bk.Entry, args: layout, shape: bk.Shape}
	k.tgIndex, k.hasTG = sig.threadgroupMem()
	if k.pipe, err = b.dev.pipeline(label, bk.Source, bk.Entry); err != nil {
		return nil, err
	}
	if err := k.checkPipeline(bk.Threads); err != nil {
		return nil, err
	}
	return k, nil
}

func (b *Backend) loadComposed(spec backend.KernelSpec) (backend.Kernel, error) {
	label := spec.Name
	switch {
	case spec.Entry == "":
		return nil, fmt.Errorf("metal: kernel %s: no entry function", label)
	case spec.Threads <= 0 || spec.Threads > 1024:
		return nil, fmt.Errorf("metal: kernel %s: %d threads per threadgroup (want 1…1024)", label, spec.Threads)
	case spec.SharedBytes < 0:
		return nil, fmt.Errorf("metal: kernel %s: negative threadgroup memory %d", label, spec.SharedBytes)
	}
	sig, err := parseKernel(spec.MSL, spec.Entry)
	if err != nil {
		return nil, fmt.Errorf("metal: kernel %s: %w", label, err)
	}
	layout, err := composedLayout(sig)
	if err != nil {
		return nil, fmt.Errorf("metal: %w", err)
	}
	k := &kernel{b: b, name: spec.Name, label: label, entry: spec.Entry, args: layout, threads: spec.Threads, tgMem: ktgMem(spec.SharedBytes)}
	k.tgIndex, k.hasTG = sig.threadgroupMem()
	switch {
	case k.hasTG && spec.SharedBytes == 0:
		return nil, fmt.Errorf("metal: kernel %s takes [[threadgroup(%d)]] memory but the spec asks for 0 bytes (SharedBytes)", label, k.tgIndex)
	case !k.hasTG && spec.SharedBytes > 0:
		return nil, fmt.Errorf("metal: kernel %s: the spec asks for %d bytes of threadgroup memory but the kernel takes no [[threadgroup(0)]] argument", label, spec.SharedBytes)
	}
	if k.pipe, err = b.dev.pipeline(label, spec.MSL, spec.Entry); err != nil {
		return nil, err
	}
	if err := k.checkPipeline(spec.Threads); err != nil {
		return nil, err
	}
	if err := k.checkTGMem(k.tgMem); err != nil {
		return nil, err
	}
	return k, nil
}

// checkPipeline checks the compiled pipeline against the threads a
// threadgroup of the kernel will have and the SIMD width the kernels are
// written for.
func (k *kernel) checkPipeline(threads int) error {
	p := k.pipe
	if p.width != simdWidth {
		return fmt.Errorf("metal: kernel %s: the pipeline's SIMD width (threadExecutionWidth) is %d; metallic's kernels need %d", k.label, p.width, simdWidth)
	}
	if threads > p.maxThreads {
		return fmt.Errorf("metal: kernel %s: %d threads per threadgroup, but the compiled pipeline allows at most %d (maxTotalThreadsPerThreadgroup: register use)", k.label, threads, p.maxThreads)
	}
	return nil
}

// checkTGMem checks n bytes of dynamic threadgroup memory against the
// device's limit (with the kernel's static threadgroup memory).
func (k *kernel) checkTGMem(n int) error {
	if limit := k.b.dev.info.maxTGMem; k.pipe.staticTG+n > limit {
		return fmt.Errorf("metal: kernel %s: %d bytes of threadgroup memory (+%d static) exceed %s's maxThreadgroupMemoryLength of %d", k.label, n, k.pipe.staticTG, k.b.dev.info.name, limit)
	}
	return nil
}

// launch returns the launch of a dispatch over g, checked against the
// pipeline and Metal's limits; skip is true when the grid is empty.
func (k *kernel) launch(g backend.Grid, args []backend.Arg) (ls launchShape, skip bool, err error) {
	if k.shape != nil {
		ls = k.shape(g, args)
	} else {
		ls = launchShape{grid: [3]int{max(g.X, 1), max(g.Y, 1), max(g.Z, 1)}, threads: [3]int{k.threads, 1, 1}, tgMem: k.tgMem}
	}
	for i, n := range ls.grid {
		if n == 0 {
			return ls, true, nil
		}
		if n < 0 || n > maxGrid[i] {
			return ls, false, fmt.Errorf("metal: %s: grid %v of threadgroups outside Metal's limits %v", k.label, ls.grid, maxGrid)
		}
	}
	t := ls.threads
	if t[0] < 1 || t[1] != 1 || t[2] != 1 {
		return ls, false, fmt.Errorf("metal: %s: threads per threadgroup %v: want a positive 1-D size", k.label, t)
	}
	if t[0] > k.pipe.maxThreads {
		return ls, false, fmt.Errorf("metal: %s: %d threads per threadgroup, the pipeline allows %d (maxTotalThreadsPerThreadgroup)", k.label, t[0], k.pipe.maxThreads)
	}
	switch {
	case ls.tgMem < 0 || ls.tgMem%tgMemAlign != 0:
		return ls, false, fmt.Errorf("metal: %s: %d bytes of threadgroup memory: want a multiple of %d", k.label, ls.tgMem, tgMemAlign)
	case ls.tgMem > 0 && !k.hasTG:
		return ls, false, fmt.Errorf("metal: %s: %d bytes of threadgroup memory for a kernel that takes none", k.label, ls.tgMem)
	case ls.tgMem == 0 && k.hasTG:
		return ls, false, fmt.Errorf("metal: %s: the kernel takes threadgroup memory but the launch gives none", k.label)
	}
	if err := k.checkTGMem(ls.tgMem); err != nil {
		return ls, false, err
	}
	return ls, false, nil
}

// maxGrid is the most threadgroups a dispatch may have per dimension.
var maxGrid = [3]int{1<<32 - 1, 65535, 65535}

// describeArgs spells a kernel's parameters for an error message.
func (k *kernel) describeArgs() string {
	var s []string
	for _, p := range k.args.params {
		s = append(s, fmt.Sprintf("[[buffer(%d)]] %s %s", p.Index, p.Type, p.Name))
	}
	return strings.Join(s, ", ")
}
