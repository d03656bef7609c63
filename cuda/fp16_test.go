package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// TestFP16HeaderPTX compiles the minimal cuda_fp16.h with clang's CUDA
// device compiler (no CUDA installation: the qualifiers NVRTC predefines
// are defined here) and checks the conversions become the PTX cvt
// instructions with round to nearest even.
func TestFP16HeaderPTX(t *testing.T) {
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	src := "#define __device__ __attribute__((device))\n" +
		"#define __global__ __attribute__((global))\n" +
		"#define __forceinline__ __inline__ __attribute__((always_inline))\n" +
		strings.Replace(fp16Header, "#pragma once\n", "", 1) +
		"extern \"C\" __global__ void k(__half* y, const float* x) {\n" +
		"    y[0] = __float2half_rn(__half2float(__ushort_as_half(__half_as_ushort(y[1]))) + x[0]);\n}\n"
	file := filepath.Join(t.TempDir(), "fp16.cu")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(clang, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
		"--cuda-gpu-arch=sm_80", "-S", "-o", "-", file).CombinedOutput()
	if err != nil {
		testenv.NeedOracle(t, "clang cannot compile CUDA for NVPTX here: "+err.Error()+"\n"+string(out))
	}
	for _, want := range []string{"cvt.f32.f16", "cvt.rn.f16.f32"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("PTX lacks %s:\n%s", want, out)
		}
	}
}
