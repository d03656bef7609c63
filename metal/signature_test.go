package metal

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

func TestParseKernel(t *testing.T) {
	// A dsl-style kernel: every argument at its own index.
	src := `#include <metal_stdlib>
kernel void fused_qkv(
    device const float* a_x [[buffer(0)]],
    device half* a_y [[buffer(1)]],
    constant int& a_n [[buffer(2)]],
    constant float& a_eps [[buffer(3)]],
    uint3 tg3 [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float part_1[4];
}
`
	k, err := parseKernel(src, "fused_qkv")
	if err != nil {
		t.Fatal(err)
	}
	want := []mslParam{
		{Name: "a_x", Type: "device const float*", Attr: "buffer", Index: 0, Role: roleBuffer, Elem: "float"},
		{Name: "a_y", Type: "device half*", Attr: "buffer", Index: 1, Role: roleBuffer, Elem: "half"},
		{Name: "a_n", Type: "constant int&", Attr: "buffer", Index: 2, Role: roleBytes, Elem: "int"},
		{Name: "a_eps", Type: "constant float&", Attr: "buffer", Index: 3, Role: roleBytes, Elem: "float"},
		{Name: "tg3", Type: "uint3", Attr: "threadgroup_position_in_grid", Index: -1, Role: roleBuiltin, Elem: "uint3"},
		{Name: "tid", Type: "uint", Attr: "thread_index_in_threadgroup", Index: -1, Role: roleBuiltin, Elem: "uint"},
	}
	if len(k.Params) != len(want) {
		t.Fatalf("params %+v", k.Params)
	}
	for i := range want {
		if k.Params[i] != want[i] {
			t.Errorf("param %d: %+v, want %+v", i, k.Params[i], want[i])
		}
	}
	l, err := composedLayout(k)
	if err != nil || l.sig != "bbif" || l.align[0] != 4 || l.align[1] != 2 {
		t.Errorf("composed layout %+v, %v", l, err)
	}
	if _, ok := k.threadgroupMem(); ok {
		t.Errorf("a static threadgroup array is not a [[threadgroup(0)]] argument")
	}
	for _, c := range []struct{ src, want string }{
		{"kernel void k(device float* y [[buffer(0)]], device float* z [[buffer(0)]]) {}", "share [[buffer(0)]]"},
		{"kernel void k(threadgroup float* s [[buffer(0)]]) {}", "want a device or constant pointer"},
		{"kernel void k(device float* s [[threadgroup(0)]]) {}", "want a threadgroup pointer"},
		{"kernel void k(uint w [[dispatch_width]]) {}", "[[dispatch_width]] is not one this backend binds"},
		{"kernel void k(device float* y [[buffer(0)]] {}", "unbalanced parameter list"},
	} {
		if _, err := parseKernel(c.src, "k"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseKernel(%q): %v, want %q", c.src, err, c.want)
		}
	}
}

// TestBuiltinSignatures: every built-in kernel's parameters, read from
// its source, are what the backend binds (builtinLayout), with the
// alignments its buffers need.
func TestBuiltinSignatures(t *testing.T) {
	specs, ks := builtinAll()
	for i, bk := range ks {
		sig, err := parseKernel(bk.Source, bk.Entry)
		if err != nil {
			t.Fatalf("%s: %v", bk.Entry, err)
		}
		l, err := builtinLayout(sig, bk.Sig, 2)
		if err != nil {
			t.Fatalf("%s: %v", bk.Entry, err)
		}
		_, tg := sig.threadgroupMem()
		if tg != builtinOps[specs[i].Name].tgMem {
			t.Errorf("%s: threadgroup memory %v, the op says %v", bk.Entry, tg, builtinOps[specs[i].Name].tgMem)
		}
		for j, c := range bk.Sig {
			if c == 'b' && l.align[j] < 2 {
				t.Errorf("%s: argument %d needs alignment %d", bk.Entry, j, l.align[j])
			}
		}
	}
	// An f16 activation is 2-byte aligned, an f32 one and a position 4.
	bk, _ := builtin(backend.KernelSpec{Name: backend.OpRope, In: backend.F16, Out: backend.F32})
	sig, _ := parseKernel(bk.Source, bk.Entry)
	l, _ := builtinLayout(sig, bk.Sig, 2)
	if got := l.align; got[0] != 4 || got[1] != 2 || got[5] != 4 || l.structIndex != 3 || l.structSize != 24 {
		t.Errorf("rope f16→f32: align %v, struct at %d of %d bytes", got, l.structIndex, l.structSize)
	}
	bk, _ = builtin(backend.KernelSpec{Name: backend.OpMatMul, Weight: gguf.TypeF32})
	sig, _ = parseKernel(bk.Source, bk.Entry)
	if l, _ := builtinLayout(sig, bk.Sig, 4); l.align[2] != 4 {
		t.Errorf("F32 weights: alignment %d", l.align[2])
	}
}
