package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/metallic-go/metallic/internal/testenv"
)

// maxDocBytes bounds a documentation file: a page nobody can read in one
// sitting is a defect (docs/PERFORMANCE.md once grew to 3.3 MB by an edit
// that repeated a paragraph between every character).
const maxDocBytes = 100 << 10

// docFiles are README.md and every docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	root := testenv.RepoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md found")
	}
	return append([]string{filepath.Join(root, "README.md")}, files...)
}

// TestDocsAreText: every doc is valid UTF-8 text (no NUL, no other C0
// control but tab and newline) under maxDocBytes.
func TestDocsAreText(t *testing.T) {
	for _, f := range docFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > maxDocBytes {
				t.Errorf("%d bytes, want at most %d", len(data), maxDocBytes)
			}
			if !utf8.Valid(data) {
				t.Errorf("not valid UTF-8")
			}
			for i, c := range data {
				if c < 0x20 && c != '\n' && c != '\t' {
					line := bytes.Count(data[:i], []byte("\n")) + 1
					t.Fatalf("control byte %#02x on line %d", c, line)
				}
			}
		})
	}
}
