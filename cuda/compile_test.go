package cuda

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompileOptions(t *testing.T) {
	for _, tc := range []struct {
		major, minor int
		cubin        bool
		include      []string
		want         string
	}{
		{9, 0, true, []string{"/usr/local/cuda/include", "/usr/local/cuda/include/cccl"},
			"--gpu-architecture=sm_90 --std=c++17 --fmad=true --ftz=false --prec-div=true --prec-sqrt=true --include-path=/usr/local/cuda/include --include-path=/usr/local/cuda/include/cccl"},
		{9, 0, false, nil, "--gpu-architecture=compute_90 --std=c++17 --fmad=true --ftz=false --prec-div=true --prec-sqrt=true"},
		{8, 6, true, nil, "--gpu-architecture=sm_86 --std=c++17 --fmad=true --ftz=false --prec-div=true --prec-sqrt=true"},
	} {
		got := strings.Join(compileOptions(tc.major, tc.minor, tc.cubin, tc.include), " ")
		if got != tc.want {
			t.Errorf("compileOptions(%d, %d, %v) = %q, want %q", tc.major, tc.minor, tc.cubin, got, tc.want)
		}
		if strings.Contains(got, "fast_math") || strings.Contains(got, "fast-math") {
			t.Errorf("fast math in %q: the plain contract forbids it", got)
		}
	}
}

func TestCompileErrorFormat(t *testing.T) {
	src := "extern \"C\" __global__ void k(float* y) {\n    int i = threadIdx.x;\n    y[i] = nope + 1.0f;\n}\n"
	log := "matmul_Q4_0.cu(3): error: identifier \"nope\" is undefined\n\n1 error detected in the compilation of \"matmul_Q4_0.cu\"."
	err := compileError("matmul[Q4_0 f32→f32 kv f32]", "matmul_Q4_0.cu", src, log, &nvrtcError{Call: "nvrtcCompileProgram", Code: 6, Text: "NVRTC_ERROR_COMPILATION"})
	want := "cuda: compiling kernel matmul[Q4_0 f32→f32 kv f32] (matmul_Q4_0.cu): nvrtcCompileProgram: NVRTC_ERROR_COMPILATION\n" +
		"  line 3: y[i] = nope + 1.0f;\n" +
		"NVRTC log:\n" + log
	if err.Error() != want {
		t.Errorf("got:\n%s\nwant:\n%s", err, want)
	}
	if got := programName("matmul[Q4_0 f32→f32]"); got != "matmul_Q4_0_f32_f32_.cu" {
		t.Errorf("programName = %q", got)
	}
}

func TestModuleCache(t *testing.T) {
	b, d, c := fakeBackend(t, nil)
	if _, err := b.Load(specAxpy()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(specAxpy()); err != nil {
		t.Fatal(err)
	}
	// A second backend on the same device shares the cache.
	b2, err := newBackend(b.dev, b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Load(specAxpy()); err != nil {
		t.Fatal(err)
	}
	if c.compiles != 1 || d.calls["loadModule"] != 1 {
		t.Errorf("compiles = %d, module loads = %d, want 1 and 1", c.compiles, d.calls["loadModule"])
	}
	if _, err := b.Load(specAddPos()); err != nil {
		t.Fatal(err)
	}
	if c.compiles != 2 {
		t.Errorf("compiles = %d after a second source, want 2", c.compiles)
	}
	if got, want := strings.Join(c.lastOpts, " "), strings.Join(compileOptions(9, 0, true, []string{"/fake/include"}), " "); got != want {
		t.Errorf("options = %q, want %q", got, want)
	}
	if p := b.Provenance(); p.Code != "cubin sm_90" {
		t.Errorf("Code = %q, want cubin sm_90", p.Code)
	}
}

func TestCompileFailure(t *testing.T) {
	b, _, _ := fakeBackend(t, nil)
	_, err := b.Load(backendSpec("bad_kernel", "extern \"C\" __global__ void bad(float* y) {\n#error \"no accessor\"\n}\n", "bad"))
	if err == nil {
		t.Fatal("Load of a source with #error succeeded")
	}
	for _, want := range []string{"compiling kernel bad_kernel", "line 2: #error \"no accessor\"", "NVRTC log:", "bad_kernel.cu(2): error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = b.Load(backendSpec("no_entry", srcAxpy, "missing"))
	if err == nil || !strings.Contains(err.Error(), `entry "missing"`) || !strings.Contains(err.Error(), "CUDA_ERROR_NOT_FOUND") {
		t.Errorf("missing entry: err = %v", err)
	}
}

func TestPTXFallback(t *testing.T) {
	b, _, c := fakeBackend(t, nil)
	c.failCubin = true
	if _, err := b.Load(specAxpy()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.lastOpts, " "); !strings.HasPrefix(got, "--gpu-architecture=compute_90") {
		t.Errorf("fallback options = %q, want compute_90", got)
	}
	code := b.Provenance().Code
	for _, want := range []string{"1 module(s) built another way (first: test_axpy: PTX compute_90 for the driver's JIT", "NVRTC_ERROR_INVALID_OPTION"} {
		if !strings.Contains(code, want) {
			t.Errorf("Code %q lacks %q", code, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want config
		err  string
	}{
		{nil, config{graphs: true, timeout: defaultTimeout, graphMin: 4, graphMax: 32}, ""},
		{map[string]string{EnvGraphs: "0", EnvSync: "1", EnvTimeout: "90s"}, config{graphs: false, sync: true, timeout: 90 * time.Second, graphMin: 4, graphMax: 32}, ""},
		{map[string]string{EnvGraphs: "off"}, config{}, `METALLIC_CUDA_GRAPHS="off": want 0 (off) or 1 (on)`},
		{map[string]string{EnvSync: "yes"}, config{}, `METALLIC_CUDA_SYNC="yes"`},
		{map[string]string{EnvPDL: "1"}, config{graphs: true, pdl: true, timeout: defaultTimeout, graphMin: 4, graphMax: 32}, ""},
		{map[string]string{EnvPDL: "on"}, config{}, `METALLIC_CUDA_PDL="on": want 0 (off) or 1`},
		{map[string]string{EnvTimeout: "10"}, config{}, `METALLIC_CUDA_TIMEOUT="10": want a positive duration`},
		{map[string]string{EnvTimeout: "-1s"}, config{}, `METALLIC_CUDA_TIMEOUT="-1s"`},
	} {
		got, err := parseConfig(envOf(tc.env))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err = %v, want %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: got %+v, %v; want %+v", tc.env, got, err, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{Call: "cuLaunchKernel", Code: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS", Text: "an illegal memory access was encountered", Kernel: "matmul[F32 f32→f32 kv f32]"},
			"cuda: kernel matmul[F32 f32→f32 kv f32]: cuLaunchKernel: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)"},
		{&Error{Call: "cuInit", Code: 100, Name: "CUDA_ERROR_NO_DEVICE", Text: "no CUDA-capable device is detected"},
			"cuda: cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)"},
		{&Error{Call: "cuMemAlloc_v2", Code: 9999}, "cuda: cuMemAlloc_v2: CUresult 9999"},
		{withKernel(&Error{Call: "cuStreamQuery", Code: 719, Name: "CUDA_ERROR_LAUNCH_FAILED"}, "rope"), "cuda: kernel rope: cuStreamQuery: CUDA_ERROR_LAUNCH_FAILED"},
		{unavailable("cannot load %s", "libcuda.so.1"), "cuda: unavailable: cannot load libcuda.so.1"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	if !errors.Is(unavailable("x"), ErrUnavailable) {
		t.Error("an unavailable error is not ErrUnavailable")
	}
}

// TestHeaderFallbacks: a source including cuda_fp16.h that does not
// compile with the toolkit's headers is retried with NVRTC's built-in
// headers, then with the minimal in-memory header; Provenance says so,
// and when every way fails the primary way's error is reported.
func TestHeaderFallbacks(t *testing.T) {
	src := "#include <cuda_fp16.h>\n" + srcAxpy
	withInclude := func(opts []string, _ []header) bool {
		return strings.Contains(strings.Join(opts, " "), "--include-path")
	}
	builtin := func(opts []string, h []header) bool { return !withInclude(opts, h) && len(h) == 0 }
	minimal := func(_ []string, h []header) bool {
		return len(h) == 1 && h[0].name == "cuda_fp16.h" && h[0].src == fp16Header
	}
	for _, tc := range []struct {
		name     string
		needs    func([]string, []header) bool
		compiles int
		code     string
		err      string
	}{
		{"toolkit headers", withInclude, 1, "cubin sm_90", ""},
		{"built-in headers", builtin, 2, "cubin sm_90; 1 module(s) built another way (first: test_axpy: compiled with NVRTC's built-in headers", ""},
		{"minimal header", minimal, 3, "first: test_axpy: compiled with metallic's minimal cuda_fp16.h", ""},
		{"none", func([]string, []header) bool { return false }, 3, "", "cuda: compiling kernel test_axpy (test_axpy.cu): nvrtcCompileProgram: NVRTC_ERROR_COMPILATION\n  line 1: #include <cuda_fp16.h>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, c := fakeBackend(t, nil)
			c.needs = tc.needs
			_, err := b.Load(backendSpec("test_axpy", src, "axpy"))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q…", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if code := b.Provenance().Code; !strings.Contains(code, tc.code) {
				t.Errorf("Code = %q, want %q", code, tc.code)
			}
			if c.compiles != tc.compiles {
				t.Errorf("%d compiles, want %d", c.compiles, tc.compiles)
			}
		})
	}
	// A source without cuda_fp16.h is compiled one way only.
	b, _, c := fakeBackend(t, nil)
	if _, err := b.Load(backendSpec("broken", "extern \"C\" __global__ void k() {\n#error x\n}\n", "k")); err == nil || c.compiles != 1 {
		t.Errorf("compile error: %v after %d compiles, want an error after 1", err, c.compiles)
	}
}
