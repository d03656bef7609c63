package dsl

import (
	"github.com/metallic-go/metallic/internal/testenv"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/model"
)

func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }

func openStories(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Open(filepath.Join(repoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
