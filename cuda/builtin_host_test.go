//go:build linux

package cuda

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
)

// TestBuiltinHostConformance runs the conformance suite (every op × weight
// dtype × activation dtype against the float64 oracle, plain profile) on
// the CUDA sources of builtin executed on the host: the CI proof that this
// very source computes the contract.
func TestBuiltinHostConformance(t *testing.T) {
	hb := newEmuBackend(loadEmuLib(t))
	defer hb.Close()
	rs := backendtest.Check(hb)
	// Before the plain profile's suite (results named "plain/…"), RoPE was
	// checked against llama.cpp's float32 angle recurrence, which the plain
	// contract does not promise; TestBuiltinHostRope checks the plain bound
	// meanwhile. Once the suite names its profile this is dead code.
	legacy := len(rs) > 0 && !strings.HasPrefix(rs[0].Name(), string(backend.Plain)+"/")
	ran := 0
	for _, r := range rs {
		t.Run(r.Name(), func(t *testing.T) {
			if legacy && r.Op == backend.OpRope {
				t.Skip("this suite's RoPE oracle uses ggml's angle recurrence, not plain's exact angle; see TestBuiltinHostRope")
			}
			// OpMatMulQ is ggml-cpu's: a plain backend refuses it, naming
			// the profile (backendtest runs it only for backends listing
			// ggml-cpu, and checks the refusal).
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
	if ran < 100 || hb.launches < 100 {
		t.Fatalf("only %d cases and %d launches ran", ran, hb.launches)
	}
	t.Logf("%d cases, %d launches on the host", ran, hb.launches)
}

// emuOpener gives each test a host backend over the shared host library.
func emuOpener(t *testing.T) backend.Backend {
	hb := newEmuBackend(loadEmuLib(t))
	t.Cleanup(func() { hb.Close() })
	return hb
}

// emuOps runs backendtest's op tests on the host-executed kernels.
var emuOps = backendtest.Ops{Open: emuOpener, Stream: 0x6375646b65726e}

func TestBuiltinHostMatMul(t *testing.T)    { backendtest.OpsMatMul(t, emuOps) }
func TestBuiltinHostAttention(t *testing.T) { backendtest.OpsAttention(t, emuOps) }
func TestBuiltinHostRope(t *testing.T)      { backendtest.OpsRope(t, emuOps) }
func TestBuiltinHostRowOps(t *testing.T)    { backendtest.OpsRowOps(t, emuOps) }

// TestBuiltinBenchCasesOnHost runs each GPU benchmark case small enough
// for the host once on the host backend, so the benchmark's argument
// lists and buffer sizes are right before it reaches the GPU (the guard
// pages catch a buffer too small). The prompt-sized matmuls and long
// attentions are left out (minutes on the host); their arguments come
// from the same code as the decode ones.
func TestBuiltinBenchCasesOnHost(t *testing.T) {
	hb := emuOpener(t)
	ran := 0
	for _, c := range benchCases() {
		big := strings.HasPrefix(c.name, "matmul") && !strings.Contains(c.name, ",T=1/") ||
			strings.HasPrefix(c.name, "attention") && !strings.Contains(c.name, "ctx=64/") && !strings.Contains(c.name, "T=1,")
		if c.bytes > 12<<20 || big {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			args, bufs, err := c.args(hb, rand.New(rand.NewPCG(1, 2)))
			defer func() {
				for _, b := range bufs {
					hb.Free(b)
				}
			}()
			if err != nil {
				t.Fatal(err)
			}
			k, err := hb.Load(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			enc := hb.Begin()
			enc.Dispatch(k, c.grid, args...)
			if err := enc.Commit(); err != nil {
				t.Fatal(err)
			}
			ran++
		})
	}
	if ran < 40 {
		t.Fatalf("only %d benchmark cases ran", ran)
	}
}
