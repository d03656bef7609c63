//go:build linux

package metal

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
)

// hostBackend is the real Backend over the fake Objective-C runtime whose
// GPU runs the dispatched MSL on the host.
func hostBackend(t testing.TB) (*Backend, *fakeRT, *hostGPU) {
	t.Helper()
	f := newFakeRT()
	g := newHostGPU(t)
	f.gpu = g
	return fakeBackend(t, f), f, g
}

// TestHostConformance runs the conformance suite (every op × weight dtype
// × activation dtype against the float64 oracle, plain profile) through
// the real Backend — its buffers, pipeline cache, argument binding, one
// command buffer per commit, Sync — with every dispatch's hand-written
// MSL executed on the host: the CI proof that this very source, bound as
// the backend binds it, computes the contract.
func TestHostConformance(t *testing.T) {
	b, f, g := hostBackend(t)
	rs := backendtest.Check(b)
	ran := 0
	for _, r := range rs {
		t.Run(r.Name(), func(t *testing.T) {
			// OpMatMulQ is ggml-cpu's: a plain backend refuses it, naming
			// the profile (backendtest checks the refusal itself).
			if r.Op == backend.OpMatMulQ && r.Shape != "refused" {
				if !strings.Contains(r.Err, string(backend.Plain)) {
					t.Fatalf("%s: want a refusal naming %q, got %q", r.Name(), backend.Plain, r.Err)
				}
				return
			}
			ran++
			if r.Err != "" {
				t.Fatalf("%s: %s", r.Name(), r.Err)
			}
			if !r.Pass {
				t.Errorf("%s: max_abs %.3g max_rel %.3g nmse %.3g: error/tolerance %.3g > 1", r.Name(), r.MaxAbs, r.MaxRel, r.NMSE, r.Ratio)
			}
		})
	}
	if ran < 100 || g.runs < 100 {
		t.Fatalf("only %d cases and %d dispatches ran", ran, g.runs)
	}
	t.Logf("%d cases, %d dispatches executed on the host in %d command buffers", ran, g.runs, f.count("commandBuffer"))
}

// hostOpener gives each op test the backend over the fake runtime whose
// GPU runs the MSL on the host.
func hostOpener(t *testing.T) backend.Backend {
	b, _, _ := hostBackend(t)
	return b
}

// hostOps runs backendtest's op tests on the backend over the host-executed MSL.
var hostOps = backendtest.Ops{Open: hostOpener, Stream: 0x6d6574616c}

func TestHostOpsMatMul(t *testing.T)    { backendtest.OpsMatMul(t, hostOps) }
func TestHostOpsAttention(t *testing.T) { backendtest.OpsAttention(t, hostOps) }
func TestHostOpsRope(t *testing.T)      { backendtest.OpsRope(t, hostOps) }
func TestHostOpsRowOps(t *testing.T)    { backendtest.OpsRowOps(t, hostOps) }

// TestKernelCasesOnHost runs each case of BenchmarkKernels once on the
// host, so its argument lists and buffer sizes are right before it reaches
// a Mac (the guard pages catch a buffer too small).
func TestKernelCasesOnHost(t *testing.T) {
	b, _, g := hostBackend(t)
	for _, c := range kernelCases() {
		t.Run(c.name, func(t *testing.T) {
			k, err := b.Load(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			enc := b.Begin()
			enc.Dispatch(k, c.grid, c.args(t, b, rand.New(rand.NewPCG(1, 2)))...)
			if err := enc.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if g.runs < len(kernelCases()) {
		t.Errorf("%d dispatches ran for %d cases", g.runs, len(kernelCases()))
	}
}
