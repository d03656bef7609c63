package backendtest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/backend/cpu"
)

// plainOnly is the cpu backend presented as a backend that implements
// only the plain profile (as a GPU backend does). With honest set, its
// Load refuses ggml-cpu built-ins as a backend must; without, it falls
// back to cpu's ggml-cpu kernels silently, which the suite must catch.
// errMsg replaces the refusal's message when set.
type plainOnly struct {
	*cpu.Backend
	honest bool
	errMsg string
}

func (b *plainOnly) Numerics() []backend.Numerics { return []backend.Numerics{backend.Plain} }

func (b *plainOnly) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	if b.honest && spec.CPU == nil && spec.Numerics != "" && spec.Numerics != backend.Plain {
		if b.errMsg != "" {
			return nil, errors.New(b.errMsg)
		}
		return nil, errors.New("fake: numerics profile " + string(spec.Numerics) + " is not implemented (only plain)")
	}
	return b.Backend.Load(spec)
}

// refusalFailures returns the failing refusal rows of Check.
func refusalFailures(b backend.Backend) (fails []backendtest.Result, cases int) {
	for _, r := range backendtest.Check(b) {
		if r.Shape == "refused" || r.Op == "numerics" {
			if !r.Pass {
				fails = append(fails, r)
			}
			continue
		}
		if r.Numerics != string(backend.Plain) {
			fails = append(fails, r) // a case of a profile the backend does not list
		}
		cases++
	}
	return fails, cases
}

// TestProfileRefusal: a backend that lacks a profile passes the suite when
// its Load refuses that profile's built-ins with an error naming it, and
// fails it when it falls back silently or refuses without naming the
// profile. The suite runs only the plain cases on it.
func TestProfileRefusal(t *testing.T) {
	for name, b := range map[string]backend.Backend{
		"honest":   &plainOnly{Backend: cpu.New(backend.Options{}), honest: true},
		"Restrict": backendtest.Restrict(cpu.New(backend.Options{}), "restricted", backend.Plain),
	} {
		t.Run(name, func(t *testing.T) {
			fails, cases := refusalFailures(b)
			if len(fails) > 0 {
				t.Errorf("an honest plain-only backend fails %d checks, first %s: %s", len(fails), fails[0].Name(), fails[0].Err)
			}
			if cases == 0 {
				t.Error("no plain case was run")
			}
		})
	}
	t.Run("falls back", func(t *testing.T) {
		fails, _ := refusalFailures(&plainOnly{Backend: cpu.New(backend.Options{})})
		if len(fails) != len(backend.Ops()) {
			t.Fatalf("%d failing checks, want one per built-in op (%d): %v", len(fails), len(backend.Ops()), fails)
		}
		for _, f := range fails {
			if f.Numerics != string(backend.GGMLCPU) || !strings.Contains(f.Err, "never fall back") {
				t.Errorf("%s: %q, want a ggml-cpu refusal failure saying it must not fall back", f.Name(), f.Err)
			}
		}
	})
	t.Run("unclear error", func(t *testing.T) {
		fails, _ := refusalFailures(&plainOnly{Backend: cpu.New(backend.Options{}), honest: true, errMsg: "fake: no"})
		// Both ggml-cpu and the unknown profile are refused without being named.
		if len(fails) != 2*len(backend.Ops()) {
			t.Fatalf("%d failing checks, want two per built-in op (%d)", len(fails), 2*len(backend.Ops()))
		}
		for _, f := range fails {
			if !strings.Contains(f.Err, "does not name the profile") {
				t.Errorf("%s: %q, want a failure saying the error does not name the profile", f.Name(), f.Err)
			}
		}
	})
}

// flashBlind is the cpu backend with a Load that drops the flash-attention
// request (KernelSpec.Flash) instead of refusing it under plain.
type flashBlind struct{ *cpu.Backend }

func (b *flashBlind) Load(spec backend.KernelSpec) (backend.Kernel, error) {
	spec.Flash = backend.FlashAttn{}
	return b.Backend.Load(spec)
}

// TestFlashRefusal: the suite passes a backend that refuses flash
// attention under plain (the cpu backend) and fails one that ignores the
// request.
func TestFlashRefusal(t *testing.T) {
	for _, c := range []struct {
		name string
		b    backend.Backend
		fail bool
	}{{"cpu", cpu.New(backend.Options{}), false}, {"ignores flash", &flashBlind{cpu.New(backend.Options{})}, true}} {
		t.Run(c.name, func(t *testing.T) {
			var row *backendtest.Result
			for _, r := range backendtest.Check(c.b) {
				if r.Op == backend.OpAttention && r.Shape == "flash refused" {
					row = &r
				}
			}
			switch {
			case row == nil:
				t.Fatal("no flash refusal check in Check's results")
			case row.Pass == c.fail:
				t.Errorf("flash refusal check passed %v, want %v (%s)", row.Pass, !c.fail, row.Err)
			case c.fail && !strings.Contains(row.Err, "never ignore"):
				t.Errorf("failure %q, want one saying a backend must never ignore it", row.Err)
			}
		})
	}
}

// TestCPURefusesPlainMatMulQ: the cpu backend implements both profiles
// but refuses OpMatMulQ under plain (and with no profile, which means
// plain), naming the profile, and an unknown profile.
func TestCPURefusesPlainMatMulQ(t *testing.T) {
	b := cpu.New(backend.Options{})
	for _, p := range []backend.Numerics{"", backend.Plain, "bogus"} {
		op := backend.OpMatMulQ
		if p == "bogus" {
			op = backend.OpAdd
		}
		_, err := b.Load(backend.KernelSpec{Name: op, Numerics: p})
		want := string(p)
		if p == "" {
			want = string(backend.Plain)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s, numerics %q): error %v, want one naming %q", op, p, err, want)
		}
	}
	if _, err := b.Load(backend.KernelSpec{Name: backend.OpMatMulQ, Numerics: backend.GGMLCPU}); err != nil {
		t.Errorf("matmul_q under ggml-cpu: %v", err)
	}
}
