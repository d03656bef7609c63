package kernel

import (
	"fmt"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
)

// requireClang skips without clang, or fails when oracles are required.
func requireClang(t *testing.T) {
	t.Helper()
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, fmt.Sprint(err))
	}
}

// stageMatrix composes every stage with every GPU weight dtype and both
// activation dtypes.
func stageMatrix(t *testing.T) []*Kernel {
	var ks []*Kernel
	add := func(name string, pros []Prologue, main Main, epis []Epilogue) {
		k, err := Compose(fmt.Sprintf("%s_%d", name, len(ks)), pros, main, epis)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ks = append(ks, k)
	}
	for _, half := range []bool{false, true} {
		a := ActType(half)
		for _, wt := range GPUWeightTypes() {
			add("qkv", []Prologue{&RMSNorm{Gamma: wt, Eps: 1e-6}},
				&Gemv{Types: []gguf.Type{wt, wt, wt}, K: 256, N: []int{64, 32, 32}, In: a, Out: a, Round: true},
				[]Epilogue{&Bias{Types: []gguf.Type{wt, wt, wt}}})
			add("down", nil, &Gemv{Types: []gguf.Type{wt}, K: 256, N: []int{64}, In: a, Out: a},
				[]Epilogue{&Bias{Types: []gguf.Type{wt}}, &Residual{Alpha: 1, Beta: 1, Elem: a}})
			add("ffn", []Prologue{&RMSNorm{Gamma: wt}}, &Gemv{Types: []gguf.Type{wt, gguf.TypeQ8_0}, K: 256, N: []int{64}, In: a, Out: a, Pair: true, Round: true},
				[]Epilogue{SwiGLU{}})
			add("gelu", nil, &Gemv{Types: []gguf.Type{wt}, K: 256, N: []int{64}, In: a, Out: Float}, []Epilogue{GELU{}})
			add("qkv_tiled", []Prologue{&RMSNorm{Gamma: wt, Eps: 1e-6}},
				&Gemv{Types: []gguf.Type{wt, wt, wt}, K: 256, N: []int{64, 32, 32}, In: a, Out: a, AtPos: []bool{false, false, true}, Tiled: true},
				[]Epilogue{&Bias{Types: []gguf.Type{wt, wt, wt}}})
			add("ffn_tiled", []Prologue{&RMSNorm{Gamma: wt}}, &Gemv{Types: []gguf.Type{wt, gguf.TypeQ8_0}, K: 256, N: []int{64}, In: a, Out: a, Pair: true, Tiled: true},
				[]Epilogue{SwiGLU{}})
			add("embed", []Prologue{&Embed{Table: wt, K: 256}}, &Copy{N: 256, Segs: 1, DstStride: 256, Out: a, Gathered: true}, nil)
		}
		for _, neox := range []bool{false, true} {
			for _, plain := range []bool{false, true} {
				add("rope", []Prologue{&RMSNorm{Gamma: gguf.TypeF32}, &Rope{NeoX: neox, Dim: 64, Base: 1e6, Plain: plain}},
					&Copy{N: 64, Segs: 2, SrcStride: 128, DstStride: 128, In: a, Out: a, Offset: true}, nil)
			}
		}
		add("attn", nil, &Attention{Heads: 4, KVHeads: 2, HeadDim: 64, In: a, Cache: a, Out: a}, nil)
		add("softmax", nil, &Copy{N: 100, Segs: 1, SrcStride: 100, DstStride: 100, In: a, Out: a, SIMD: true}, []Epilogue{&Softmax{}})
		for _, op := range []Op{OpAdd, OpMax, OpMin} {
			add("reduce", nil, &Copy{N: 100, Segs: 1, SrcStride: 100, DstStride: 1, In: a, Out: Float}, []Epilogue{&Reduce{Op: op}})
		}
		add("gather", nil, &Copy{Mode: CopyGather, N: 16, Segs: 1, SrcStride: 16, DstStride: 16, In: a, Out: a}, nil)
		add("scatter", nil, &Copy{Mode: CopyScatter, N: 16, Segs: 1, SrcStride: 16, DstStride: 16, In: a, Out: a}, nil)
	}
	return ks
}

// TestClangSyntaxStages parses every stage × dtype kernel in both
// dialects.
func TestClangSyntaxStages(t *testing.T) {
	requireClang(t)
	ks := stageMatrix(t)
	for _, d := range []Dialect{MSL, CUDA} {
		var srcs []clangcheck.Source
		for _, k := range ks {
			code := k.MSL
			if d == CUDA {
				code = k.CUDA
			}
			srcs = append(srcs, clangcheck.Source{Name: k.Name, Code: code})
		}
		if err := clangcheck.Check(d.String(), srcs); err != nil {
			t.Fatal(err)
		}
		if d == CUDA {
			if err := clangcheck.CheckCUDADevice(srcs); err != nil {
				t.Fatal(err)
			}
			// PTX for one activation dtype (the other changes loads and
			// stores only): the device code generator sees every stage
			// and weight dtype.
			if err := clangcheck.CompileCUDADevice(srcs[:len(srcs)/2]); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d kernels parsed in MSL and CUDA and checked as CUDA device code, %d compiled to PTX", len(ks), len(ks)/2)
}

// The syntax check can fail: a kernel with a type error is rejected.
func TestClangRejectsBrokenKernel(t *testing.T) {
	requireClang(t)
	k, err := Compose("broken", nil, plainGemv(), []Epilogue{&testEpi{name: "e", apply: func(c *Ctx, v Expr) Expr {
		return F("%s * undeclared_thing", v)
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Dialect{MSL, CUDA} {
		code := k.MSL
		if d == CUDA {
			code = k.CUDA
		}
		if err := clangcheck.Check(d.String(), []clangcheck.Source{{Name: "broken", Code: code}}); err == nil {
			t.Fatalf("%s: clang accepted an undeclared identifier", d)
		}
	}
}

// The CUDA device check applies CUDA's rules, which the plain C++ parse
// does not: a kernel calling a host function passes Check and fails
// CheckCUDADevice.
func TestClangDeviceRejectsHostCall(t *testing.T) {
	requireClang(t)
	inc := Include{Name: "host_only", MSL: "float host_only(float v) { return v; }", CUDA: "float host_only(float v) { return v; }"}
	k, err := Compose("hostcall", nil, plainGemv(), []Epilogue{&testEpi{name: "e", incs: []Include{inc}, apply: func(c *Ctx, v Expr) Expr {
		return F("host_only(%s)", v)
	}}})
	if err != nil {
		t.Fatal(err)
	}
	src := []clangcheck.Source{{Name: "hostcall", Code: k.CUDA}}
	if err := clangcheck.Check("cuda", src); err != nil {
		t.Fatalf("the C++ parse rejects the kernel: %v", err)
	}
	err = clangcheck.CheckCUDADevice(src)
	if err == nil || !strings.Contains(err.Error(), "host_only") {
		t.Fatalf("CheckCUDADevice = %v, want an error about the host function", err)
	}
}

// MaxThreadgroup is the static threadgroup memory a generated kernel may
// declare: Metal's 32 KiB (CUDA allows 48 KiB of static shared memory).
const maxThreadgroup = 32 << 10

// Every stage × dtype kernel, and the GEMV, GEMM and attention shapes of
// large models (K up to 14336, three outputs, gate/up pairs of two dtypes
// with rounding, heads of 256), declares at most 32 KiB of threadgroup
// memory; the count is what the sources declare.
func TestThreadgroupMemoryFits(t *testing.T) {
	ks := stageMatrix(t)
	add := func(name string, pros []Prologue, main Main, epis []Epilogue) {
		k, err := Compose(name, pros, main, epis)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ks = append(ks, k)
	}
	for _, K := range []int{1024, 4608, 14336} {
		for _, tiled := range []bool{false, true} {
			add("qkv", []Prologue{&RMSNorm{Gamma: gguf.TypeF32}}, &Gemv{Types: []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K}, K: K,
				N: []int{K, 512, 512}, In: Float, Out: Float, AtPos: []bool{false, false, true}, Tiled: tiled}, nil)
			add("ffn", []Prologue{&RMSNorm{Gamma: gguf.TypeF32}}, &Gemv{Types: []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K}, K: K,
				N: []int{4 * K}, In: Half, Out: Half, Pair: true, Round: !tiled, Tiled: tiled}, []Epilogue{SwiGLU{}})
		}
	}
	add("attn", nil, &Attention{Heads: 32, KVHeads: 8, HeadDim: 256, In: Float, Cache: Float, Out: Float}, nil)
	most := ks[0]
	for _, k := range ks {
		if k.Threadgroup > maxThreadgroup {
			t.Errorf("kernel %s declares %d bytes of threadgroup memory (at most %d)", k.Name, k.Threadgroup, maxThreadgroup)
		}
		if k.Threadgroup > most.Threadgroup {
			most = k
		}
	}
	t.Logf("%d kernels; the most threadgroup memory: %s, %d bytes", len(ks), most.Name, most.Threadgroup)
	// The count is the declarations': a 2048-float staging slot is 8 KiB.
	k, err := Compose("one", nil, &Gemv{Types: []gguf.Type{gguf.TypeF16}, K: 4096, N: []int{8}, Rows: 8, In: Float, Out: Float}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Threadgroup != 8<<10 {
		t.Errorf("a GEMV of K=4096 declares %d bytes, want 8192 (one 2048-float slot)", k.Threadgroup)
	}
}
