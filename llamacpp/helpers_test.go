package llamacpp

import (
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/model"
)

// requireLib skips (or, with METALLIC_REQUIRE_ORACLES=1, fails) when the
// pinned llama.cpp build does not load.
func requireLib(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("llama.cpp unavailable: %v", err))
	}
}

func repoRoot(t *testing.T) string { return testenv.RepoRoot(t) }

func storiesPath(t *testing.T) string {
	return filepath.Join(repoRoot(t), "testdata", "stories260K.gguf")
}

// openStories opens stories260K and a llama.cpp path over it.
func openStories(t *testing.T, opts Options) (*model.Model, *Path) {
	t.Helper()
	requireLib(t)
	m, err := model.Open(storiesPath(t))
	if err != nil {
		t.Fatalf("model.Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if opts.Threads == 0 {
		// ggml's thread pool spins; on a shared 2-core machine one thread
		// is ~100x faster than two.
		opts.Threads = 1
	}
	p, err := New(m, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return m, p
}
