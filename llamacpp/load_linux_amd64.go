package llamacpp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// lib holds the loaded libraries' entry points. Exactly one lib is loaded
// per process.
type lib struct {
	dir                                   string
	llamaVer, ggmlVer, ggmlCommit, system string

	// libllama
	backendInit          func()
	logSet               func(cb uintptr, ud uintptr)
	modelDefaultParams   func() modelParams
	contextDefaultParams func() contextParams
	modelLoadFromFile    func(path string, p modelParams) unsafe.Pointer
	modelFree            func(m unsafe.Pointer)
	initFromModel        func(m unsafe.Pointer, p contextParams) unsafe.Pointer
	free                 func(ctx unsafe.Pointer)
	getMemory            func(ctx unsafe.Pointer) unsafe.Pointer
	memoryClear          func(mem unsafe.Pointer, data bool)
	batchInit            func(nTokens, embd, nSeqMax int32) batch
	batchFree            func(b batch)
	decode               func(ctx unsafe.Pointer, b batch) int32
	getLogitsIth         func(ctx unsafe.Pointer, i int32) unsafe.Pointer
	modelGetVocab        func(m unsafe.Pointer) unsafe.Pointer
	vocabNTokens         func(v unsafe.Pointer) int32
	modelNEmbd           func(m unsafe.Pointer) int32
	modelNLayer          func(m unsafe.Pointer) int32
	nCtx                 func(ctx unsafe.Pointer) uint32
	tokenize             func(v unsafe.Pointer, text unsafe.Pointer, n int32, toks unsafe.Pointer, max int32, addSpecial, parseSpecial bool) int32
	tokenToPiece         func(v unsafe.Pointer, tok int32, buf unsafe.Pointer, n int32, lstrip int32, special bool) int32
	detokenize           func(v unsafe.Pointer, toks unsafe.Pointer, n int32, text unsafe.Pointer, max int32, removeSpecial, unparseSpecial bool) int32
	llamaVersion         func() unsafe.Pointer
	printSystemInfo      func() unsafe.Pointer

	// libggml
	loadAllFromPath func(dir string)
	devCount        func() uint64

	// libggml-base
	ggmlVersion    func() unsafe.Pointer
	ggmlCommitFn   func() unsafe.Pointer
	ggmlInit       func(p ggmlInitParams) unsafe.Pointer
	ggmlFree       func(ctx unsafe.Pointer)
	newTensor4d    func(ctx unsafe.Pointer, typ int32, ne0, ne1, ne2, ne3 int64) unsafe.Pointer
	ggmlAdd        func(ctx, a, b unsafe.Pointer) unsafe.Pointer
	getName        func(t unsafe.Pointer) unsafe.Pointer
	nbytes         func(t unsafe.Pointer) uint64
	opName         func(op int32) unsafe.Pointer
	tensorOverhead func() uint64
	tensorGet      func(t unsafe.Pointer, data unsafe.Pointer, offset, size uint64)
	tensorSet      func(t unsafe.Pointer, data unsafe.Pointer, offset, size uint64)

	opNames sync.Map // int32 -> string
}

// ggmlInitParams mirrors struct ggml_init_params.
type ggmlInitParams struct {
	MemSize   uint64
	MemBuffer unsafe.Pointer
	NoAlloc   bool
}

var loader struct {
	mu     sync.Mutex
	lib    *lib
	failed map[string]error // library folder -> why it did not load
}

// Available reports whether llama.cpp loads from the default library folder
// (see LibDir): nil when it does, else why not.
func Available() error {
	_, err := load("")
	return err
}

// Info describes the loaded build: folder, version strings and
// llama_print_system_info. It loads the library from the default folder if
// none is loaded yet.
func Info() (string, error) {
	l, err := load("")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("llama.cpp %s (ggml %s, commit %s) from %s; %s", l.llamaVer, l.ggmlVer, l.ggmlCommit, l.dir, strings.TrimSpace(l.system)), nil
}

// CPUVariant names the libggml-cpu build llama.cpp's loader picked for this
// CPU ("icelake", "haswell", …; libggml-cpu-<variant>.so), read from the
// process's memory map. It loads llama.cpp if needed.
func CPUVariant() (string, error) {
	if _, err := load(""); err != nil {
		return "", err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return "", fmt.Errorf("llamacpp: reading the memory map: %w", err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		i := strings.LastIndex(line, "/libggml-cpu")
		if i < 0 {
			continue
		}
		name := strings.TrimSuffix(line[i+len("/libggml-cpu"):], ".so")
		return strings.TrimPrefix(name, "-"), nil
	}
	return "", errors.New("llamacpp: no libggml-cpu library is mapped")
}

// load returns the process's library, loading it from dir (or the default
// folder) the first time. Errors are cached per folder. A library is
// loaded at most once per process: asking for another folder afterwards
// is an error.
func load(dir string) (*lib, error) {
	d, err := LibDir(dir)
	if err != nil {
		return nil, err
	}
	loader.mu.Lock()
	defer loader.mu.Unlock()
	if loader.lib != nil {
		if loader.lib.dir != d && !sameFile(loader.lib.dir, d) {
			if err := checkDir(d); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("llamacpp: library already loaded from %s; cannot load another from %s in the same process", loader.lib.dir, d)
		}
		return loader.lib, nil
	}
	if err, ok := loader.failed[d]; ok {
		return nil, err
	}
	l, err := open(d)
	if err != nil {
		if loader.failed == nil {
			loader.failed = map[string]error{}
		}
		loader.failed[d] = err
		return nil, err
	}
	loader.lib = l
	return l, nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// open loads the three libraries from dir, checks the ABI pin, silences the
// log and loads the CPU backend variants.
func open(dir string) (*lib, error) {
	if err := checkMirrors(); err != nil {
		return nil, err
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	const mode = purego.RTLD_NOW | purego.RTLD_GLOBAL
	var handles [3]uintptr
	for i, f := range []string{fileGGMLBase, fileGGML, fileLlama} {
		h, err := purego.Dlopen(filepath.Join(dir, f), mode)
		if err != nil {
			return nil, fmt.Errorf("llamacpp: loading %s: %w", filepath.Join(dir, f), err)
		}
		handles[i] = h
	}
	base, ggml, llama := handles[0], handles[1], handles[2]
	l := &lib{dir: dir}
	var missing []string
	reg := func(fptr any, h uintptr, name string) {
		sym, err := purego.Dlsym(h, name)
		if err != nil || sym == 0 {
			missing = append(missing, name)
			return
		}
		purego.RegisterFunc(fptr, sym)
	}
	reg(&l.llamaVersion, llama, "llama_version")
	reg(&l.ggmlVersion, base, "ggml_version")
	reg(&l.ggmlCommitFn, base, "ggml_commit")
	if len(missing) > 0 {
		return nil, fmt.Errorf("llamacpp: %s is not the pinned build %s (missing %s)", dir, PinLlamaVersion, strings.Join(missing, ", "))
	}
	l.llamaVer, l.ggmlVer, l.ggmlCommit = goString(l.llamaVersion()), goString(l.ggmlVersion()), goString(l.ggmlCommitFn())
	if err := checkVersions(l.llamaVer, l.ggmlVer, l.ggmlCommit); err != nil {
		return nil, err
	}

	reg(&l.backendInit, llama, "llama_backend_init")
	reg(&l.logSet, llama, "llama_log_set")
	reg(&l.modelDefaultParams, llama, "llama_model_default_params")
	reg(&l.contextDefaultParams, llama, "llama_context_default_params")
	reg(&l.modelLoadFromFile, llama, "llama_model_load_from_file")
	reg(&l.modelFree, llama, "llama_model_free")
	reg(&l.initFromModel, llama, "llama_init_from_model")
	reg(&l.free, llama, "llama_free")
	reg(&l.getMemory, llama, "llama_get_memory")
	reg(&l.memoryClear, llama, "llama_memory_clear")
	reg(&l.batchInit, llama, "llama_batch_init")
	reg(&l.batchFree, llama, "llama_batch_free")
	reg(&l.decode, llama, "llama_decode")
	reg(&l.getLogitsIth, llama, "llama_get_logits_ith")
	reg(&l.modelGetVocab, llama, "llama_model_get_vocab")
	reg(&l.vocabNTokens, llama, "llama_vocab_n_tokens")
	reg(&l.modelNEmbd, llama, "llama_model_n_embd")
	reg(&l.modelNLayer, llama, "llama_model_n_layer")
	reg(&l.nCtx, llama, "llama_n_ctx")
	reg(&l.tokenize, llama, "llama_tokenize")
	reg(&l.tokenToPiece, llama, "llama_token_to_piece")
	reg(&l.detokenize, llama, "llama_detokenize")
	reg(&l.printSystemInfo, llama, "llama_print_system_info")
	reg(&l.loadAllFromPath, ggml, "ggml_backend_load_all_from_path")
	reg(&l.devCount, ggml, "ggml_backend_dev_count")
	reg(&l.ggmlInit, base, "ggml_init")
	reg(&l.ggmlFree, base, "ggml_free")
	reg(&l.newTensor4d, base, "ggml_new_tensor_4d")
	reg(&l.ggmlAdd, base, "ggml_add")
	reg(&l.getName, base, "ggml_get_name")
	reg(&l.nbytes, base, "ggml_nbytes")
	reg(&l.opName, base, "ggml_op_name")
	reg(&l.tensorOverhead, base, "ggml_tensor_overhead")
	reg(&l.tensorGet, base, "ggml_backend_tensor_get")
	reg(&l.tensorSet, base, "ggml_backend_tensor_set")
	if len(missing) > 0 {
		return nil, fmt.Errorf("llamacpp: %s lacks symbols %s", dir, strings.Join(missing, ", "))
	}
	if err := checkModelDefaults(l.modelDefaultParams()); err != nil {
		return nil, err
	}
	if err := checkContextDefaults(l.contextDefaultParams()); err != nil {
		return nil, err
	}
	if err := l.checkTensorLayout(); err != nil {
		return nil, err
	}
	if err := l.checkBatch(); err != nil {
		return nil, err
	}

	// Silence the log before anything else prints; the callback drops
	// messages unless METALLIC_LLAMACPP_LOG=1, keeping recent warnings and
	// errors for error messages.
	l.logSet(logCallback(), 0)
	l.loadAllFromPath(dir)
	if n := l.devCount(); n == 0 {
		return nil, fmt.Errorf("llamacpp: ggml_backend_load_all_from_path(%s) found no backend (no libggml-cpu-*.so that runs on this CPU?)%s", dir, recentLog())
	}
	l.backendInit()
	l.system = goString(l.printSystemInfo())
	return l, nil
}

// checkTensorLayout makes a tensor with ggml_new_tensor_4d in a no-alloc
// context and checks the field offsets the eval callback reads.
func (l *lib) checkTensorLayout() error {
	if ov := l.tensorOverhead(); ov != tensorSize+32 {
		return fmt.Errorf("llamacpp: ggml_tensor_overhead() = %d, want %d (ggml_tensor layout changed)", ov, tensorSize+32)
	}
	ctx := l.ggmlInit(ggmlInitParams{MemSize: 4 * (tensorSize + 32 + 256), NoAlloc: true})
	if ctx == nil {
		return errors.New("llamacpp: ggml_init failed")
	}
	defer l.ggmlFree(ctx)
	t := l.newTensor4d(ctx, ggmlTypeF16, 3, 5, 7, 11)
	u := l.ggmlAdd(ctx, t, t)
	if t == nil || u == nil {
		return errors.New("llamacpp: ggml_new_tensor_4d failed")
	}
	ti := readTensor(t)
	var errs []string
	if ti.typ != ggmlTypeF16 {
		errs = append(errs, fmt.Sprintf("type %d", ti.typ))
	}
	if ti.ne != [4]int64{3, 5, 7, 11} {
		errs = append(errs, fmt.Sprintf("ne %v", ti.ne))
	}
	if ti.nb != [4]uint64{2, 6, 30, 210} {
		errs = append(errs, fmt.Sprintf("nb %v", ti.nb))
	}
	if ti.data != nil || ti.buffer != nil || ti.viewSrc != nil {
		errs = append(errs, "data/buffer/view_src not NULL")
	}
	if got := uintptr(l.getName(t)) - uintptr(t); got != offTensorName {
		errs = append(errs, fmt.Sprintf("name at offset %d", got))
	}
	if n := l.nbytes(t); n != 3*5*7*11*2 {
		errs = append(errs, fmt.Sprintf("ggml_nbytes %d", n))
	}
	if src := readTensor(u).src; src[0] != t || src[1] != t {
		errs = append(errs, "src of ggml_add(t, t) is not {t, t}")
	}
	if op := l.op(readTensor(u).op); op != "ADD" {
		errs = append(errs, fmt.Sprintf("op of ggml_add is %q", op))
	}
	if op := l.op(ti.op); op != "NONE" {
		errs = append(errs, fmt.Sprintf("op of a new tensor is %q", op))
	}
	if len(errs) > 0 {
		return fmt.Errorf("llamacpp: ggml_tensor layout differs from the pinned build: %s", strings.Join(errs, "; "))
	}
	return nil
}

// op returns ggml_op_name(op), cached.
func (l *lib) op(op int32) string {
	if s, ok := l.opNames.Load(op); ok {
		return s.(string)
	}
	s := goString(l.opName(op))
	l.opNames.Store(op, s)
	return s
}

// goString copies a NUL-terminated C string.
func goString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// checkBatch checks llama_batch_init's result through the Go mirror: with
// embd = 0 only the embd pointer is NULL and n_tokens is 0.
func (l *lib) checkBatch() error {
	b := l.batchInit(4, 0, 1)
	defer l.batchFree(b)
	if b.NTokens != 0 || b.Embd != nil || b.Token == nil || b.Pos == nil || b.NSeqID == nil || b.SeqID == nil || b.Logits == nil {
		return fmt.Errorf("llamacpp: llama_batch_init(4, 0, 1) returned %+v: llama_batch layout differs from the pinned build", b)
	}
	return nil
}
