package cpu_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/backendtest"
	"github.com/metallic-go/metallic/backend/cpu"
)

func TestConformance(t *testing.T) { backendtest.Run(t, cpu.New(backend.Options{})) }

// TestThreadsBitIdentical checks that every op's output bytes are the same
// with 1 and 2 worker threads, and with GOMAXPROCS 1 and 2.
func TestThreadsBitIdentical(t *testing.T) {
	one := backendtest.Fingerprint(cpu.New(backend.Options{Threads: 1}))
	two := backendtest.Fingerprint(cpu.New(backend.Options{Threads: 2}))
	if !slices.Equal(one, two) {
		t.Errorf("Threads=1 and Threads=2 differ: %x vs %x", one, two)
	}
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	g1 := backendtest.Fingerprint(cpu.New(backend.Options{}))
	runtime.GOMAXPROCS(2)
	g2 := backendtest.Fingerprint(cpu.New(backend.Options{}))
	if !slices.Equal(g1, g2) || !slices.Equal(g1, one) {
		t.Errorf("GOMAXPROCS=1 and GOMAXPROCS=2 differ")
	}
}
