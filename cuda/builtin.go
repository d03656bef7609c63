package cuda

import (
	"embed"
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The hand-written CUDA C kernels of the built-in ops (backend/ops.go)
// under the plain numerics contract (backend/numerics.go). They are written
// by hand, not produced by dsl/kernel, so the reference path on cuda and
// the dsl path stay independent implementations. Each kernel file in
// kernels/ documents its design: threads, what a block computes, the bytes
// it moves.

//go:embed kernels/*.cu
var builtinFiles embed.FS

// builtinKernel is the hand-written CUDA kernel of one built-in op specialization.
type builtinKernel struct {
	Source string // complete CUDA C source, NVRTC-compilable, self-contained (may #include <cuda_fp16.h>)
	Entry  string // extern "C" __global__ function name
	// Shape returns the launch configuration of a dispatch over g with args
	// (the backend chooses how many outputs a block computes; every output is
	// computed by exactly one block, in a fixed order).
	Shape func(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int)
}

// builtinOp describes how one built-in op is specialized.
type builtinOp struct {
	file    string // kernels/<file>: the op's kernel template
	fn      string // the template function the entry calls
	weight  bool   // specialized by KernelSpec.Weight
	in, kv  bool   // specialized by KernelSpec.In, KernelSpec.KV
	params  string // the entry's parameter list; IN, OUT, KV name the storage types
	args    string // the template call's arguments
	sig     string // argument kinds in order: b buffer, i int, f float
	threads int    // the most threads Shape gives a block (__launch_bounds__)
	shape   func(g backend.Grid, args []backend.Arg) (grid, block [3]int, shared int)
}

// builtinOps are the ops this package implements (every op of
// backend/ops.go but OpMatMulQ, which is GGMLCPU's).
var builtinOps = map[string]builtinOp{
	backend.OpEmbed: {
		file: "rows.cu", fn: "embed", weight: true,
		params: "OUT* out, const u8* w, const int* ids, int d", args: "out, w, ids, d",
		sig: "bbbi", threads: ewThreads, shape: shapeEmbed,
	},
	backend.OpRMSNorm: {
		file: "rows.cu", fn: "rmsnorm", weight: true, in: true,
		params: "OUT* out, const IN* x, const u8* g, int n, float eps", args: "out, x, g, n, eps",
		sig: "bbbif", threads: rnThreads, shape: shapeRMSNorm,
	},
	backend.OpMatMul: {
		file: "matmul.cu", fn: "matmul", weight: true, in: true,
		params: "OUT* __restrict__ out, const IN* __restrict__ x, const u8* __restrict__ w, int K, int N, int T",
		args:   "out, x, w, K, N, T",
		sig:    "bbbiii", threads: max(32*mmGemvWarps, 32*mmGemmWarps), shape: shapeMatMul,
	},
	backend.OpAddBias: {
		file: "rows.cu", fn: "add_bias", weight: true, in: true,
		params: "OUT* out, const IN* x, const u8* bias, int n", args: "out, x, bias, n",
		sig: "bbbi", threads: ewThreads, shape: shapeAddBias,
	},
	backend.OpRope: {
		file: "rope.cu", fn: "rope", in: true,
		params: "OUT* out, const IN* x, int heads, int hd, int rd, const int* pos, float base, int style",
		args:   "out, x, heads, hd, rd, pos, base, style",
		sig:    "bbiiibfi", threads: rpThreads, shape: shapeRope,
	},
	backend.OpCopy: {
		file: "rows.cu", fn: "copy_rows", in: true,
		params: "OUT* dst, const IN* src, int n, const int* pos", args: "dst, src, n, pos",
		sig: "bbib", threads: ewThreads, shape: shapeCopy,
	},
	backend.OpAttention: {
		file: "attention.cu", fn: "attention", in: true, kv: true,
		params: "OUT* out, const IN* q, const KV* kc, const KV* vc, int heads, int kvh, int hd, const int* pos, float scale",
		args:   "out, q, kc, vc, heads, kvh, hd, pos, scale",
		sig:    "bbbbiiibf", threads: 32 * atWarps, shape: shapeAttention,
	},
	backend.OpAdd: {
		file: "rows.cu", fn: "add", in: true,
		params: "OUT* out, const IN* a, const IN* b, int n", args: "out, a, b, n",
		sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
	backend.OpSwiGLU: {
		file: "rows.cu", fn: "swiglu", in: true,
		params: "OUT* out, const IN* gate, const IN* up, int n", args: "out, gate, up, n",
		sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
}

// builtinWeights maps the weight dtypes the kernels read to their struct in
// kernels/weights.cu: every dtype gguf dequantizes.
var builtinWeights = map[gguf.Type]string{
	gguf.TypeF32: "WF32", gguf.TypeF16: "WF16", gguf.TypeBF16: "WBF16",
	gguf.TypeQ8_0: "WQ8_0", gguf.TypeQ4_0: "WQ4_0", gguf.TypeQ4_1: "WQ4_1",
	gguf.TypeQ5_0: "WQ5_0", gguf.TypeQ5_1: "WQ5_1", gguf.TypeQ8_K: "WQ8_K",
	gguf.TypeQ2_K: "WQ2_K", gguf.TypeQ3_K: "WQ3_K", gguf.TypeQ4_K: "WQ4_K",
	gguf.TypeQ5_K: "WQ5_K", gguf.TypeQ6_K: "WQ6_K", gguf.TypeIQ4_NL: "WIQ4_NL",
}

// builtin returns the kernel of spec (a built-in op of backend/ops.go under the
// plain profile), or a clear error for an op, weight dtype, activation dtype
// or profile it does not implement (OpMatMulQ and GGMLCPU are not plain).
// The weight dtype of an op without a weight argument is ignored.
func builtin(spec backend.KernelSpec) (builtinKernel, error) {
	if spec.Numerics != "" && spec.Numerics != backend.Plain {
		return builtinKernel{}, fmt.Errorf("cuda: %s: numerics profile %q is not implemented (cuda has %q only)", spec.Name, spec.Numerics, backend.Plain)
	}
	if spec.Flash.On {
		return builtinKernel{}, fmt.Errorf("cuda: %s: flash attention is ggml's CPU kernel, defined under numerics %s only (cuda implements %s)", spec.Name, backend.GGMLCPU, backend.Plain)
	}
	if spec.Name == backend.OpMatMulQ {
		return builtinKernel{}, fmt.Errorf("cuda: %s is %s arithmetic (activations rounded as llama.cpp's CPU does); cuda implements %q only: use %s", spec.Name, backend.GGMLCPU, backend.Plain, backend.OpMatMul)
	}
	op, ok := builtinOps[spec.Name]
	if !ok {
		return builtinKernel{}, fmt.Errorf("cuda: unknown built-in op %q (have %v)", spec.Name, builtinNames())
	}
	for _, d := range []struct {
		what string
		dt   backend.DType
		used bool
	}{{"input", spec.In, op.in}, {"output", spec.Out, true}, {"KV cache", spec.KV, op.kv}} {
		if d.used && d.dt != backend.F32 && d.dt != backend.F16 {
			return builtinKernel{}, fmt.Errorf("cuda: %s: unknown %s storage dtype %d (want f32 or f16)", spec.Name, d.what, d.dt)
		}
	}
	ws := ""
	if op.weight {
		if ws, ok = builtinWeights[spec.Weight]; !ok {
			return builtinKernel{}, fmt.Errorf("cuda: %s: weight dtype %v is not supported (have %v)", spec.Name, spec.Weight, builtinWeightTypes())
		}
	}
	entry, src := builtinSource(spec.Name, op, ws, spec)
	return builtinKernel{Source: src, Entry: entry, Shape: op.shape}, nil
}

// builtinSource returns the entry name and the complete source of one
// specialization: the source prefix of op (builtinPrefix) followed by an
// extern "C" entry that instantiates the op's template.
func builtinSource(name string, op builtinOp, ws string, spec backend.KernelSpec) (entry, src string) {
	ctype := map[backend.DType]string{backend.F32: "float", backend.F16: "__half"}
	parts := []string{name}
	var targs []string
	if op.weight {
		parts = append(parts, strings.ToLower(spec.Weight.String()))
		targs = append(targs, ws)
	}
	if op.in {
		parts = append(parts, spec.In.String())
		targs = append(targs, ctype[spec.In])
	}
	if op.kv {
		parts = append(parts, "kv"+spec.KV.String())
		targs = append(targs, ctype[spec.KV])
	}
	parts = append(parts, spec.Out.String())
	targs = append(targs, ctype[spec.Out])
	entry = strings.Join(parts, "_")
	params := strings.NewReplacer("OUT", ctype[spec.Out], "IN", ctype[spec.In], "KV", ctype[spec.KV]).Replace(op.params)
	stub := fmt.Sprintf("extern \"C\" __global__ void __launch_bounds__(%d) %s(%s) {\n%s    %s<%s>(%s);\n}\n",
		op.threads, entry, params, pdlWait, op.fn, strings.Join(targs, ", "), op.args)
	return entry, builtinPrefix(op) + stub
}

// builtinPrefix is the part of every source of op before its entry: the
// fp16 header, the launch constants, common.cu, weights.cu when the op
// reads weights, and the op's file.
func builtinPrefix(op builtinOp) string {
	var b strings.Builder
	b.WriteString("#include <cuda_fp16.h>\n")
	b.WriteString(builtinConstants())
	b.WriteString(builtinFile("common.cu"))
	if op.weight {
		b.WriteString(builtinFile("weights.cu"))
	}
	b.WriteString(builtinFile(op.file))
	return b.String()
}

// builtinFile returns an embedded kernel file; the names are fixed above,
// so a missing one is a build defect.
func builtinFile(name string) string {
	data, err := builtinFiles.ReadFile("kernels/" + name)
	if err != nil {
		panic("cuda: embedded kernel file missing: " + name)
	}
	return string(data)
}

// builtinNames lists the implemented op names in backend.Ops order.
func builtinNames() []string {
	var names []string
	for _, n := range backend.Ops() {
		if _, ok := builtinOps[n]; ok {
			names = append(names, n)
		}
	}
	return names
}

// builtinWeightTypes lists the supported weight dtypes in type-id order.
func builtinWeightTypes() []gguf.Type {
	var ts []gguf.Type
	for t := gguf.Type(0); t < 64; t++ {
		if _, ok := builtinWeights[t]; ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// pdlWait opens every built-in kernel: on sm_90 and later it waits for
// the grids this one depends on (a no-op unless the launch allowed
// programmatic dependent launch, EnvPDL), then lets the next grid launch.
// Nothing is read or written before the wait.
const pdlWait = `#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
`
