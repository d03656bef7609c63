package cuda

import (
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// Hand-written test kernels: the GPU tests compile and run the CUDA
// sources; the fake driver runs the Go twins, which compute the same
// values in the same order.

// srcAxpy: y[i] = a·x[i] + y[i] for i < n, one thread per element.
const srcAxpy = `extern "C" __global__ void axpy(float* y, const float* x, int n, float a) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = a * x[i] + y[i];
    }
}
`

// srcAddPos: y[i] += float(*pos): a scalar read from device memory, as the
// built-in ops read positions (Pos arguments).
const srcAddPos = `extern "C" __global__ void addpos(float* y, const int* pos, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = y[i] + (float)pos[0];
    }
}
`

// srcRowSum: out[r] = Σ x[r,:] over rows of n, one block per row: each
// thread sums a strided slice sequentially, then a tree in dynamic shared
// memory halves the partials (a fixed order: bit-reproducible).
const srcRowSum = `extern "C" __global__ void rowsum(float* out, const float* x, int n) {
    extern __shared__ float part[];
    unsigned int t = threadIdx.x;
    const float* row = x + (long long)blockIdx.x * n;
    float s = 0.0f;
    for (int k = t; k < n; k += blockDim.x) {
        s += row[k];
    }
    part[t] = s;
    __syncthreads();
    for (unsigned int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (t < h) {
            part[t] += part[t + h];
        }
        __syncthreads();
    }
    if (t == 0) {
        out[blockIdx.x] = part[0];
    }
}
`

// srcSpin busies one thread for about ms milliseconds (clock64 at ~1.5
// GHz) to test the bounded wait.
const srcSpin = `extern "C" __global__ void spin(int ms) {
    long long start = clock64();
    while (clock64() - start < (long long)ms * 1500000LL) {
    }
}
`

// srcBroken does not compile: line 3 uses an undeclared name.
const srcBroken = `extern "C" __global__ void broken(float* y) {
    int i = threadIdx.x;
    y[i] = undeclared_name + 1.0f;
}
`

// Composed-kernel specs of the test kernels.
func specAxpy() backend.KernelSpec {
	return backend.KernelSpec{Name: "test_axpy", CUDA: srcAxpy, Entry: "axpy", Threads: 128}
}

func specAddPos() backend.KernelSpec {
	return backend.KernelSpec{Name: "test_addpos", CUDA: srcAddPos, Entry: "addpos", Threads: 128}
}

// specRowSum's shared must be at least 4·threads bytes (the partials).
func specRowSum(threads, shared int) backend.KernelSpec {
	return backend.KernelSpec{Name: "test_rowsum", CUDA: srcRowSum, Entry: "rowsum", Threads: threads, SharedBytes: shared}
}

// rowSumRef is rowsum's order in Go.
func rowSumRef(x []float32, rows, n, threads int) []float32 {
	out := make([]float32, rows)
	part := make([]float32, threads)
	for r := range rows {
		row := x[r*n : (r+1)*n]
		for t := range threads {
			var s float32
			for k := t; k < n; k += threads {
				s += row[k]
			}
			part[t] = s
		}
		for h := threads / 2; h > 0; h >>= 1 {
			for t := range h {
				part[t] += part[t+h]
			}
		}
		out[r] = part[0]
	}
	return out
}

// registerTestKernels gives the fake driver the Go twins.
func registerTestKernels(d *fakeDriver) {
	d.kernels["axpy"] = &fakeKernel{entry: "axpy", params: []paramSlot{{0, 8}, {8, 8}, {16, 4}, {20, 4}},
		run: func(d *fakeDriver, l fakeLaunch) error {
			n := l.int(2)
			y, err := d.f32s(l.ptr(0), n)
			if err != nil {
				return err
			}
			x, err := d.f32s(l.ptr(1), n)
			if err != nil {
				return err
			}
			a := l.float(3)
			for i := range y {
				y[i] = a*x[i] + y[i]
			}
			return d.putF32s(l.ptr(0), y)
		}}
	d.kernels["addpos"] = &fakeKernel{entry: "addpos", params: []paramSlot{{0, 8}, {8, 8}, {16, 4}},
		run: func(d *fakeDriver, l fakeLaunch) error {
			n := l.int(2)
			y, err := d.f32s(l.ptr(0), n)
			if err != nil {
				return err
			}
			pb, err := d.mem(l.ptr(1), 4)
			if err != nil {
				return err
			}
			p := float32(int32(uint32(pb[0]) | uint32(pb[1])<<8 | uint32(pb[2])<<16 | uint32(pb[3])<<24))
			for i := range y {
				y[i] += p
			}
			return d.putF32s(l.ptr(0), y)
		}}
	d.kernels["rowsum"] = &fakeKernel{entry: "rowsum", params: []paramSlot{{0, 8}, {8, 8}, {16, 4}},
		run: func(d *fakeDriver, l fakeLaunch) error {
			rows, n, threads := int(l.cfg.grid[0]), l.int(2), int(l.cfg.block[0])
			if int(l.cfg.shared) < 4*threads {
				return &Error{Call: "kernel", Code: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS", Text: "rowsum's partials overflow its dynamic shared memory"}
			}
			x, err := d.f32s(l.ptr(1), rows*n)
			if err != nil {
				return err
			}
			return d.putF32s(l.ptr(0), rowSumRef(x, rows, n, threads))
		}}
	d.kernels["broken"] = &fakeKernel{entry: "broken", run: func(*fakeDriver, fakeLaunch) error { return nil }}
}

// TestKernelSourcesParse checks the CUDA test kernels with clang's CUDA
// syntax shim (rowsum's extern shared array as a static one; spin uses
// clock64, which the shim lacks).
func TestKernelSourcesParse(t *testing.T) {
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	srcs := []clangcheck.Source{
		{Name: "axpy", Code: srcAxpy},
		{Name: "addpos", Code: srcAddPos},
		{Name: "rowsum", Code: strings.Replace(srcRowSum, "extern __shared__ float part[];", "__shared__ float part[1024];", 1)},
	}
	if err := clangcheck.Check("cuda", srcs); err != nil {
		t.Fatal(err)
	}
	if err := clangcheck.Check("cuda", []clangcheck.Source{{Name: "broken", Code: srcBroken}}); err == nil {
		t.Fatal("clang accepted srcBroken: the check cannot fail")
	}
}
