//go:build linux

package metal

import (
	"sync"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// "metal-host" is the real Backend over the fake Objective-C runtime whose
// GPU runs the MSL on the host, under a registry name the paths can open
// (model.PathOptions{Backend: "metal-host"}). Every one it opens is kept,
// so a test can check afterwards that none broke the Objective-C rules.
var hostOpened struct {
	sync.Mutex
	fakes []*fakeRT
}

func init() {
	backend.Register("metal-host", func(backend.Options) (backend.Backend, error) {
		g, err := openHostGPU()
		if err != nil {
			return nil, err
		}
		f := newFakeRT()
		f.gpu = g
		d, err := openDevice(f)
		if err != nil {
			return nil, err
		}
		hostOpened.Lock()
		hostOpened.fakes = append(hostOpened.fakes, f)
		hostOpened.Unlock()
		return newBackend(d, config{timeout: defaultTimeout})
	})
}

// needHost skips without clang (fails under METALLIC_REQUIRE_ORACLES=1)
// and, when the test ends, fails it on any Objective-C violation of the
// backends it opened.
func needHost(t *testing.T) {
	t.Helper()
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	t.Cleanup(func() {
		hostOpened.Lock()
		defer hostOpened.Unlock()
		for _, f := range hostOpened.fakes {
			checkFake(t, f)
		}
		hostOpened.fakes = nil
	})
}

// TestHostStoriesGolden runs three of the four golden runs (dsl with f16
// activations only on a Mac: the host executes a composed kernel's
// threads one by one, a minute a run).
func TestHostStoriesGolden(t *testing.T) {
	needHost(t)
	testStoriesGolden(t, "metal-host", "reference/f32", "reference/f16", "dsl/f32")
}

func TestHostStepParity(t *testing.T) {
	needHost(t)
	testStepParity(t, "metal-host")
}

func TestHostTokenParity(t *testing.T) {
	needHost(t)
	testTokenParity(t, "metal-host", 12)
}
