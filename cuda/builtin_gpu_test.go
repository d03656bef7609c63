package cuda

import (
	"slices"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/internal/testenv"
)

// The built-in kernels on a real GPU, through the cuda backend opened by
// name (package cuda's driver side registers it): the op tests of the host
// run again, and the suite's output bits are compared across two runs.
// Without a driver, a GPU or the backend they skip with the reason (fail
// under METALLIC_REQUIRE_CUDA=1).

var builtinGPU = sync.OnceValues(func() (backend.Backend, error) { return backend.Open("cuda") })

// gpuOpener returns the process's cuda backend (opened once, never
// closed: it lives as long as the test binary).
func gpuOpener(t *testing.T) backend.Backend {
	t.Helper()
	b, err := builtinGPU()
	if err != nil {
		testenv.NeedCUDA(t, err.Error())
	}
	return b
}

// gpuOps runs backendtest's op tests on the cuda backend.
var gpuOps = backendtest.Ops{Open: gpuOpener, Stream: 0x6375646b65726e}

func TestBuiltinGPUMatMul(t *testing.T)    { gpuOpener(t); backendtest.OpsMatMul(t, gpuOps) }
func TestBuiltinGPUAttention(t *testing.T) { gpuOpener(t); backendtest.OpsAttention(t, gpuOps) }
func TestBuiltinGPURope(t *testing.T)      { gpuOpener(t); backendtest.OpsRope(t, gpuOps) }
func TestBuiltinGPURowOps(t *testing.T)    { gpuOpener(t); backendtest.OpsRowOps(t, gpuOps) }

// TestBuiltinGPUDeterministic checks that every conformance case gives the
// same output bits on two runs (fixed reduction orders, no atomics).
func TestBuiltinGPUDeterministic(t *testing.T) {
	b := gpuOpener(t)
	one, two := backendtest.Fingerprint(b), backendtest.Fingerprint(b)
	if len(one) == 0 || !slices.Equal(one, two) {
		for i := range min(len(one), len(two)) {
			if one[i] != two[i] {
				t.Errorf("case %d: output bits differ between two runs", i)
			}
		}
		t.Fatalf("%d cases; the runs differ", len(one))
	}
}
