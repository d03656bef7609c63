package metal

import (
	"embed"
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The hand-written Metal Shading Language kernels of the built-in ops
// (backend/ops.go) under the plain numerics contract
// (backend/numerics.go). They are written by hand, not produced by
// dsl/kernel, so the reference path on metal and the dsl path stay
// independent implementations. Each kernel file in kernels/ documents its
// design: threads, what a threadgroup computes, the bytes it moves.

//go:embed kernels/*.metal
var builtinFiles embed.FS

// builtinKernel is the hand-written kernel of one built-in op
// specialization.
type builtinKernel struct {
	Source string // complete MSL source, self-contained (#include <metal_stdlib> its only include)
	Entry  string // kernel function name
	// Shape returns the launch of a dispatch over g with args (the backend
	// chooses how many outputs a threadgroup computes; every output is
	// computed by exactly one threadgroup, in a fixed order).
	Shape func(g backend.Grid, args []backend.Arg) launchShape
	// Sig is the op's argument kinds in order (b buffer, i int, f float).
	Sig string
	// Threads is the most threads per threadgroup Shape gives (the
	// pipeline must allow it).
	Threads int
}

// builtinOp describes how one built-in op is specialized.
type builtinOp struct {
	file   string   // kernels/<file>: the op's kernel template
	fn     string   // the template function the entry calls
	weight bool     // specialized by KernelSpec.Weight
	in, kv bool     // specialized by KernelSpec.In, KernelSpec.KV
	bufs   []string // the entry's buffer parameters in binding order; IN, OUT, KV name the storage types
	args   string   // the argument struct (the op's scalars, then al) in the op's file
	call   string   // the template call's arguments
	sig    string   // argument kinds in order: b buffer, i int, f float
	tgMem  bool     // the entry takes dynamic threadgroup memory
	// threads is the most threads Shape gives a threadgroup.
	threads int
	shape   func(g backend.Grid, args []backend.Arg) launchShape
}

// builtinOps are the ops this package implements (every op of
// backend/ops.go but OpMatMulQ, which is GGMLCPU's).
var builtinOps = map[string]builtinOp{
	backend.OpEmbed: {
		file: "rows.metal", fn: "embed", weight: true,
		bufs: []string{"device OUT* out", "device const uchar* w", "device const int* ids"}, args: "EmbedArgs",
		call: "out, w, ids, p, g", sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
	backend.OpRMSNorm: {
		file: "rows.metal", fn: "rmsnorm", weight: true, in: true,
		bufs: []string{"device OUT* out", "device const IN* x", "device const uchar* gw"}, args: "RMSNormArgs",
		call: "out, x, gw, p, g, tgm", sig: "bbbif", tgMem: true, threads: rnThreads, shape: shapeRMSNorm,
	},
	backend.OpMatMul: {
		file: "matmul.metal", fn: "matmul", weight: true, in: true,
		bufs: []string{"device OUT* out", "device const IN* x", "device const uchar* w"}, args: "MatMulArgs",
		call: "out, x, w, p, g", sig: "bbbiii", threads: simdWidth * max(mmGemvSimds, mmGemmSimds), shape: shapeMatMul,
	},
	backend.OpAddBias: {
		file: "rows.metal", fn: "add_bias", weight: true, in: true,
		bufs: []string{"device OUT* out", "device const IN* x", "device const uchar* bias"}, args: "AddBiasArgs",
		call: "out, x, bias, p, g", sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
	backend.OpRope: {
		file: "rope.metal", fn: "rope", in: true,
		bufs: []string{"device OUT* out", "device const IN* x", "device const int* pos"}, args: "RopeArgs",
		call: "out, x, pos, p, g", sig: "bbiiibfi", threads: rpThreads, shape: shapeRope,
	},
	backend.OpCopy: {
		file: "rows.metal", fn: "copy_rows", in: true,
		bufs: []string{"device OUT* dst", "device const IN* src", "device const int* pos"}, args: "CopyArgs",
		call: "dst, src, pos, p, g", sig: "bbib", threads: ewThreads, shape: shapeRowSplit(2),
	},
	backend.OpAttention: {
		file: "attention.metal", fn: "attention", in: true, kv: true,
		bufs: []string{"device OUT* out", "device const IN* q", "device const KV* kc", "device const KV* vc", "device const int* pos"},
		args: "AttentionArgs",
		call: "out, q, kc, vc, pos, p, g, tgm",
		sig:  "bbbbiiibf", tgMem: true, threads: simdWidth * atSimds, shape: shapeAttention,
	},
	backend.OpAdd: {
		file: "rows.metal", fn: "add", in: true,
		bufs: []string{"device OUT* out", "device const IN* a", "device const IN* b"}, args: "AddArgs",
		call: "out, a, b, p, g", sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
	backend.OpSwiGLU: {
		file: "rows.metal", fn: "swiglu", in: true,
		bufs: []string{"device OUT* out", "device const IN* gate", "device const IN* up"}, args: "SwiGLUArgs",
		call: "out, gate, up, p, g", sig: "bbbi", threads: ewThreads, shape: shapeRowSplit(3),
	},
}

// builtinWeights maps the weight dtypes the kernels read to their struct
// in kernels/weights.metal: every dtype gguf dequantizes.
var builtinWeights = map[gguf.Type]string{
	gguf.TypeF32: "WF32", gguf.TypeF16: "WF16", gguf.TypeBF16: "WBF16",
	gguf.TypeQ8_0: "WQ8_0", gguf.TypeQ4_0: "WQ4_0", gguf.TypeQ4_1: "WQ4_1",
	gguf.TypeQ5_0: "WQ5_0", gguf.TypeQ5_1: "WQ5_1", gguf.TypeQ8_K: "WQ8_K",
	gguf.TypeQ2_K: "WQ2_K", gguf.TypeQ3_K: "WQ3_K", gguf.TypeQ4_K: "WQ4_K",
	gguf.TypeQ5_K: "WQ5_K", gguf.TypeQ6_K: "WQ6_K", gguf.TypeIQ4_NL: "WIQ4_NL",
}

// builtin returns the kernel of spec (a built-in op of backend/ops.go
// under the plain profile), or a clear error for an op, weight dtype,
// activation dtype or profile it does not implement (OpMatMulQ and
// GGMLCPU are not plain). The weight dtype of an op without a weight
// argument is ignored.
func builtin(spec backend.KernelSpec) (builtinKernel, error) {
	if spec.Numerics != "" && spec.Numerics != backend.Plain {
		return builtinKernel{}, fmt.Errorf("metal: %s: numerics profile %q is not implemented (metal has %q only)", spec.Name, spec.Numerics, backend.Plain)
	}
	if spec.Flash.On {
		return builtinKernel{}, fmt.Errorf("metal: %s: flash attention is ggml's CPU kernel, defined under numerics %s only (metal implements %s)", spec.Name, backend.GGMLCPU, backend.Plain)
	}
	if spec.Name == backend.OpMatMulQ {
		return builtinKernel{}, fmt.Errorf("metal: %s is %s arithmetic (activations rounded as llama.cpp's CPU does); metal implements %q only: use %s", spec.Name, backend.GGMLCPU, backend.Plain, backend.OpMatMul)
	}
	op, ok := builtinOps[spec.Name]
	if !ok {
		return builtinKernel{}, fmt.Errorf("metal: unknown built-in op %q (have %v)", spec.Name, builtinNames())
	}
	for _, d := range []struct {
		what string
		dt   backend.DType
		used bool
	}{{"input", spec.In, op.in}, {"output", spec.Out, true}, {"KV cache", spec.KV, op.kv}} {
		if d.used && d.dt != backend.F32 && d.dt != backend.F16 {
			return builtinKernel{}, fmt.Errorf("metal: %s: unknown %s storage dtype %d (want f32 or f16)", spec.Name, d.what, d.dt)
		}
	}
	ws := ""
	if op.weight {
		if ws, ok = builtinWeights[spec.Weight]; !ok {
			return builtinKernel{}, fmt.Errorf("metal: %s: weight dtype %v is not supported (have %v)", spec.Name, spec.Weight, builtinWeightTypes())
		}
	}
	entry, src := builtinSource(spec.Name, op, ws, spec)
	return builtinKernel{Source: src, Entry: entry, Shape: op.shape, Sig: op.sig, Threads: op.threads}, nil
}

// mslType is the MSL type of a storage dtype.
var mslType = map[backend.DType]string{backend.F32: "float", backend.F16: "half"}

// builtinSource returns the entry name and the complete source of one
// specialization: the source prefix of op (builtinPrefix) followed by a
// kernel entry that instantiates the op's template. Buffers are bound at
// indices 0… in argument order, the argument struct after them, and the
// dynamic threadgroup memory (when the op takes it) at threadgroup index 0.
func builtinSource(name string, op builtinOp, ws string, spec backend.KernelSpec) (entry, src string) {
	parts := []string{name}
	var targs []string
	if op.weight {
		parts = append(parts, strings.ToLower(spec.Weight.String()))
		targs = append(targs, ws)
	}
	if op.in {
		parts = append(parts, spec.In.String())
		targs = append(targs, mslType[spec.In])
	}
	if op.kv {
		parts = append(parts, "kv"+spec.KV.String())
		targs = append(targs, mslType[spec.KV])
	}
	parts = append(parts, spec.Out.String())
	targs = append(targs, mslType[spec.Out])
	entry = strings.Join(parts, "_")
	types := strings.NewReplacer("OUT", mslType[spec.Out], "IN", mslType[spec.In], "KV", mslType[spec.KV])
	var params []string
	for i, b := range op.bufs {
		params = append(params, fmt.Sprintf("%s [[buffer(%d)]]", types.Replace(b), i))
	}
	params = append(params, fmt.Sprintf("constant %s& p [[buffer(%d)]]", op.args, len(op.bufs)))
	params = append(params, "uint3 tg [[threadgroup_position_in_grid]]", "uint tid [[thread_index_in_threadgroup]]",
		"uint3 ntg [[threads_per_threadgroup]]")
	if op.tgMem {
		params = append(params, "threadgroup float* tgm [[threadgroup(0)]]")
	}
	stub := fmt.Sprintf("kernel void %s(\n    %s) {\n    const Grp g = {tg, tid, ntg.x};\n    %s<%s>(%s);\n}\n",
		entry, strings.Join(params, ",\n    "), op.fn, strings.Join(targs, ", "), op.call)
	return entry, builtinPrefix(op) + stub
}

// builtinPrefix is the part of every source of op before its entry: the
// Metal standard library, the launch constants, common.metal,
// weights.metal when the op reads weights, and the op's file.
func builtinPrefix(op builtinOp) string {
	var b strings.Builder
	b.WriteString("#include <metal_stdlib>\nusing namespace metal;\n")
	b.WriteString(builtinConstants())
	b.WriteString(builtinFile("common.metal"))
	if op.weight {
		b.WriteString(builtinFile("weights.metal"))
	}
	b.WriteString(builtinFile(op.file))
	return b.String()
}

// builtinFile returns an embedded kernel file; the names are fixed above,
// so a missing one is a build defect.
func builtinFile(name string) string {
	data, err := builtinFiles.ReadFile("kernels/" + name)
	if err != nil {
		panic("metal: embedded kernel file missing: " + name)
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

// builtinLabel names a built-in op with its specialization:
// "matmul[Q4_0 f16→f32 kv f32]".
func builtinLabel(spec backend.KernelSpec) string {
	return fmt.Sprintf("%s[%v %v→%v kv %v]", spec.Name, spec.Weight, spec.In, spec.Out, spec.KV)
}
