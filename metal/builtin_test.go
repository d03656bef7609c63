package metal

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
)

var builtinDTypes = []backend.DType{backend.F32, backend.F16}

// allBuiltinSpecs lists every specialization builtin implements: each op ×
// weight dtype (ops with a weight) × input, output and KV storage dtype
// (where the op is specialized by them).
func allBuiltinSpecs() []backend.KernelSpec {
	var specs []backend.KernelSpec
	for _, name := range builtinNames() {
		op := builtinOps[name]
		ws := []gguf.Type{gguf.TypeF32}
		if op.weight {
			ws = builtinWeightTypes()
		}
		ins, kvs := []backend.DType{backend.F32}, []backend.DType{backend.F32}
		if op.in {
			ins = builtinDTypes
		}
		if op.kv {
			kvs = builtinDTypes
		}
		for _, w := range ws {
			for _, in := range ins {
				for _, kv := range kvs {
					for _, out := range builtinDTypes {
						specs = append(specs, backend.KernelSpec{Name: name, Weight: w, In: in, Out: out, KV: kv})
					}
				}
			}
		}
	}
	return specs
}

// builtinAll returns the kernel of every spec of allBuiltinSpecs, built
// once per test binary.
var builtinAll = sync.OnceValues(func() ([]backend.KernelSpec, []builtinKernel) {
	specs := allBuiltinSpecs()
	ks := make([]builtinKernel, len(specs))
	for i, s := range specs {
		k, err := builtin(s)
		if err != nil {
			panic(fmt.Sprintf("builtin(%+v): %v", s, err))
		}
		ks[i] = k
	}
	return specs, ks
})

func TestBuiltinRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		spec backend.KernelSpec
		want string
	}{
		{"matmul_q", backend.KernelSpec{Name: backend.OpMatMulQ, Weight: gguf.TypeQ8_0}, "ggml-cpu"},
		{"ggml-cpu profile", backend.KernelSpec{Name: backend.OpMatMul, Numerics: backend.GGMLCPU}, `numerics profile "ggml-cpu"`},
		{"unknown profile", backend.KernelSpec{Name: backend.OpAdd, Numerics: "fast"}, `"fast"`},
		{"unknown op", backend.KernelSpec{Name: "gelu"}, `unknown built-in op "gelu"`},
		{"weight Q8_1", backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeQ8_1}, "weight dtype Q8_1"},
		{"weight IQ4_XS", backend.KernelSpec{Name: backend.OpEmbed, Weight: gguf.Type(23)}, "is not supported"},
		{"weight I32", backend.KernelSpec{Name: backend.OpRMSNorm, Weight: gguf.Type(26)}, "is not supported"},
		{"input dtype", backend.KernelSpec{Name: backend.OpAdd, In: 2}, "unknown input storage dtype 2"},
		{"output dtype", backend.KernelSpec{Name: backend.OpEmbed, Out: 7}, "unknown output storage dtype 7"},
		{"kv dtype", backend.KernelSpec{Name: backend.OpAttention, KV: 3}, "unknown KV cache storage dtype 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := builtin(c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("builtin(%+v) = %v, want an error containing %q", c.spec, err, c.want)
			}
		})
	}
	// Ops without a weight argument ignore Weight; an unused KV is ignored.
	for _, s := range []backend.KernelSpec{{Name: backend.OpRope, Weight: gguf.TypeQ4_0}, {Name: backend.OpAdd, KV: 9}, {Name: backend.OpEmbed, In: 9}} {
		if _, err := builtin(s); err != nil {
			t.Errorf("builtin(%+v): %v", s, err)
		}
	}
}

// TestBuiltinCoverage checks that every op of backend/ops.go but matmul_q
// and every dtype gguf dequantizes has a kernel.
func TestBuiltinCoverage(t *testing.T) {
	for _, op := range backend.Ops() {
		if _, ok := builtinOps[op]; ok == (op == backend.OpMatMulQ) {
			t.Errorf("op %s: implemented %v, want %v", op, ok, op != backend.OpMatMulQ)
		}
	}
	for ty := gguf.Type(0); ty < 64; ty++ {
		if _, ok := builtinWeights[ty]; ok != ty.CanDequantize() {
			t.Errorf("weight %v: implemented %v, CanDequantize %v", ty, ok, ty.CanDequantize())
		}
	}
}

// TestBuiltinSources checks each source's structure: the Metal standard
// library first, the op's prefix, one kernel entry of the reported name,
// its bindings in argument order, and distinct entries for distinct
// specializations.
func TestBuiltinSources(t *testing.T) {
	specs, ks := builtinAll()
	seen := map[string]string{}
	for i, k := range ks {
		s := specs[i]
		op := builtinOps[s.Name]
		prefix := builtinPrefix(op)
		if !strings.HasPrefix(k.Source, "#include <metal_stdlib>\nusing namespace metal;\n") || !strings.HasPrefix(k.Source, prefix) {
			t.Errorf("%s: source does not start with the op's prefix", k.Entry)
		}
		stub := strings.TrimPrefix(k.Source, prefix)
		if want := fmt.Sprintf("kernel void %s(\n", k.Entry); !strings.HasPrefix(stub, want) {
			t.Errorf("%s: entry stub %q, want it to start with %q", k.Entry, stub, want)
		}
		if strings.Count(k.Source, "kernel void ") != 1 || strings.Count(k.Source, "#include") != 1 {
			t.Errorf("%s: want one kernel entry and one #include", k.Entry)
		}
		if prev, dup := seen[k.Entry]; dup && prev != k.Source {
			t.Errorf("entry %s names two different sources", k.Entry)
		}
		seen[k.Entry] = k.Source
		if k.Sig != op.sig || k.Threads != op.threads || k.Shape == nil {
			t.Errorf("%s: sig %q threads %d, want %q %d", k.Entry, k.Sig, k.Threads, op.sig, op.threads)
		}
	}
	if len(seen) != len(ks) {
		t.Errorf("%d specializations but %d distinct entries", len(ks), len(seen))
	}
	k, err := builtin(backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeQ4_K, In: backend.F16, Out: backend.F32})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != "matmul_q4_k_f16_f32" || !strings.Contains(k.Source, "matmul<WQ4_K, half, float>(out, x, w, p, g);") ||
		!strings.Contains(k.Source, "device const half* x [[buffer(1)]]") || !strings.Contains(k.Source, "constant MatMulArgs& p [[buffer(3)]]") {
		t.Errorf("matmul Q4_K f16→f32: entry %q, source tail %q", k.Entry, k.Source[len(k.Source)-500:])
	}
	k, err = builtin(backend.KernelSpec{Name: backend.OpAttention, In: backend.F32, KV: backend.F16, Out: backend.F16})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != "attention_f32_kvf16_f16" || !strings.Contains(k.Source, "device const half* kc [[buffer(2)]]") ||
		!strings.Contains(k.Source, "threadgroup float* tgm [[threadgroup(0)]]") {
		t.Errorf("attention f32/kv f16/f16: entry %q, source tail %q", k.Entry, k.Source[len(k.Source)-500:])
	}
}

// TestBuiltinClang parses every kernel source with clang twice: against
// the Metal shim of dsl/kernel/clangcheck in its strict form, whose
// address spaces are clang's (a device pointer where a threadgroup or
// thread one is expected is an error, as in Metal), and checks what the
// shim cannot: every pointer or reference parameter names its address
// space, as MSL requires.
func TestBuiltinClang(t *testing.T) {
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	_, ks := builtinAll()
	// Two halves in parallel: the machine has two cores.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for h := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var srcs []clangcheck.Source
			for i := h; i < len(ks); i += 2 {
				srcs = append(srcs, clangcheck.Source{Name: ks[i].Entry, Code: ks[i].Source})
			}
			errs[h] = clangcheck.Check("msl-strict", srcs)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// funcDecl matches a function definition of the kernel files and captures
// its parameter list.
var funcDecl = regexp.MustCompile(`(?m)^\s*(?:inline |static |kernel )[^;{]*?\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:const\s*)?\{`)

// TestBuiltinAddressSpaces checks that every pointer and reference
// parameter of every function in the kernel files names its address space
// (device, constant, threadgroup or thread): MSL rejects one that does not,
// and the clang shim cannot tell (thread is its default).
func TestBuiltinAddressSpaces(t *testing.T) {
	spaces := regexp.MustCompile(`\b(device|constant|threadgroup|thread)\b`)
	for _, f := range []string{"common.metal", "weights.metal", "matmul.metal", "rows.metal", "rope.metal", "attention.metal"} {
		src := builtinFile(f)
		n := 0
		for _, m := range funcDecl.FindAllStringSubmatch(src, -1) {
			for _, p := range strings.Split(m[1], ",") {
				p = strings.TrimSpace(p)
				if strings.ContainsAny(p, "*&") && !spaces.MatchString(p) {
					t.Errorf("%s: parameter %q has no address space", f, p)
				}
				n++
			}
		}
		if n < 3 {
			t.Errorf("%s: found only %d parameters: the pattern is broken", f, n)
		}
	}
}
