package dsl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/model"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func openStories(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Open(filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func oraclesRequired() bool { return os.Getenv("METALLIC_REQUIRE_ORACLES") == "1" }
