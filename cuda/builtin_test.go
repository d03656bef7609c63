package cuda

import (
	"fmt"
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

// builtinAll returns the kernel of every spec of allBuiltinSpecs, built once
// per test binary.
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

// TestBuiltinSources checks each source's structure: the fp16 include
// first, the op's prefix, one extern "C" entry of the reported name, and
// distinct entries for distinct specializations.
func TestBuiltinSources(t *testing.T) {
	specs, ks := builtinAll()
	seen := map[string]string{}
	for i, k := range ks {
		s := specs[i]
		prefix := builtinPrefix(builtinOps[s.Name])
		if !strings.HasPrefix(k.Source, "#include <cuda_fp16.h>\n") || !strings.HasPrefix(k.Source, prefix) {
			t.Errorf("%s: source does not start with the op's prefix", k.Entry)
		}
		stub := strings.TrimPrefix(k.Source, prefix)
		if want := fmt.Sprintf("extern \"C\" __global__ void __launch_bounds__(%d) %s(", builtinOps[s.Name].threads, k.Entry); !strings.HasPrefix(stub, want) {
			t.Errorf("%s: entry stub %q, want it to start with %q", k.Entry, stub, want)
		}
		if strings.Count(k.Source, "extern \"C\"") != 1 || strings.Count(k.Source, "#include") != 1 {
			t.Errorf("%s: want one extern \"C\" entry and one #include", k.Entry)
		}
		if prev, dup := seen[k.Entry]; dup && prev != k.Source {
			t.Errorf("entry %s names two different sources", k.Entry)
		}
		seen[k.Entry] = k.Source
	}
	if len(seen) != len(ks) {
		t.Errorf("%d specializations but %d distinct entries", len(ks), len(seen))
	}
	k, err := builtin(backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeQ4_K, In: backend.F16, Out: backend.F32})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != "matmul_q4_k_f16_f32" || !strings.Contains(k.Source, "matmul<WQ4_K, __half, float>(out, x, w, K, N, T);") {
		t.Errorf("matmul Q4_K f16→f32: entry %q, source tail %q", k.Entry, k.Source[len(k.Source)-200:])
	}
	k, err = builtin(backend.KernelSpec{Name: backend.OpAttention, In: backend.F32, KV: backend.F16, Out: backend.F16})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != "attention_f32_kvf16_f16" || !strings.Contains(k.Source, "const __half* kc") {
		t.Errorf("attention f32/kv f16/f16: entry %q", k.Entry)
	}
}

// TestBuiltinClang parses every kernel source with clang's CUDA shim.
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
			errs[h] = clangcheck.Check("cuda", srcs)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
