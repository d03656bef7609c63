package llamacpp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

func TestWrongLibraryFolder(t *testing.T) {
	requireLib(t)
	m, err := model.Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	empty := t.TempDir()
	notDir := filepath.Join(empty, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	partial := t.TempDir()
	os.WriteFile(filepath.Join(partial, fileGGMLBase), []byte("x"), 0o644)
	cases := []struct{ dir, want string }{
		{empty, "lacks libggml-base.so, libggml.v0.5.0.so, libllama.v0.5.0.so"},
		{filepath.Join(empty, "missing"), "no such file"},
		{notDir, "not a directory"},
		{partial, "lacks libggml.v0.5.0.so, libllama.v0.5.0.so"},
	}
	for _, c := range cases {
		_, err := New(m, Options{LibDir: c.dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LibDir %s: err = %v, want it to contain %q", c.dir, err, c.want)
		}
		_, err = model.OpenPath("llamacpp", m, model.PathOptions{LibDir: c.dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenPath LibDir %s: err = %v, want it to contain %q", c.dir, err, c.want)
		}
	}
}

func TestLibDirLookup(t *testing.T) {
	t.Setenv(EnvDir, "/some/where")
	if d, err := LibDir(""); err != nil || d != "/some/where" {
		t.Errorf("LibDir with %s = %q, %v", EnvDir, d, err)
	}
	if d, err := LibDir("/explicit"); err != nil || d != "/explicit" {
		t.Errorf("LibDir(explicit) = %q, %v", d, err)
	}
	t.Setenv(EnvDir, "")
	d, err := LibDir("")
	want := filepath.Join(repoRoot(t), CacheDir)
	if _, statErr := os.Stat(want); statErr == nil && (err != nil || d != want) {
		t.Errorf("LibDir default = %q, %v; want %q", d, err, want)
	}
}

// writeGGUF writes a small GGUF with the given architecture and the
// stories260K tensors and vocabulary copied over.
func writeGGUF(t *testing.T, arch string, dropTensor string) string {
	t.Helper()
	src, err := gguf.Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		k, v := kv.Key, kv.Value
		if k == "general.architecture" {
			v = arch
		}
		if strings.HasPrefix(k, "llama.") {
			k = arch + strings.TrimPrefix(k, "llama")
		}
		if k == "general.alignment" {
			continue
		}
		if err := w.AddKV(k, v); err != nil {
			t.Fatalf("AddKV %s: %v", k, err)
		}
	}
	for i := range src.Tensors {
		ti := &src.Tensors[i]
		if ti.Name == dropTensor {
			continue
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, src.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), arch+".gguf")
	if err := w.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRejectedModels(t *testing.T) {
	requireLib(t)
	m, err := model.Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	truncated := filepath.Join(t.TempDir(), "trunc.gguf")
	data, _ := os.ReadFile(storiesPath(t))
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	notGGUF := filepath.Join(t.TempDir(), "text.gguf")
	os.WriteFile(notGGUF, []byte("hello, this is not a model\n"), 0o644)
	cases := []struct{ name, file string }{
		{"unknown architecture", writeGGUF(t, "nosucharch", "")},
		{"missing tensor", writeGGUF(t, "llama", "blk.3.ffn_up.weight")},
		{"truncated", truncated},
		{"not gguf", notGGUF},
		{"no such file", filepath.Join(t.TempDir(), "absent.gguf")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := newPath(c.file, &m.Config, Options{PathOptions: model.PathOptions{Threads: 1}})
			if err == nil {
				p.Close()
				t.Fatal("llama.cpp accepted the file")
			}
			if !strings.Contains(err.Error(), "could not load") {
				t.Errorf("err = %v", err)
			}
			t.Log(err)
		})
	}
	// The path keeps working after rejections.
	_, p := openStories(t, Options{})
	if _, err := p.Forward([]int32{1}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestBackendAndDTypeOptions(t *testing.T) {
	requireLib(t)
	m, err := model.Open(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := New(m, Options{PathOptions: model.PathOptions{Backend: "metal"}}); err == nil || !strings.Contains(err.Error(), "CPU backend only") {
		t.Errorf("backend metal: err = %v", err)
	}
	if _, err := New(m, Options{PathOptions: model.PathOptions{ActDType: "bf16"}}); err == nil {
		t.Error("act dtype bf16 accepted")
	}
	// f16 KV cache still reproduces the golden start.
	_, p := openStories(t, Options{PathOptions: model.PathOptions{ActDType: "f16"}})
	res, err := model.Generate(p, []int32{1}, model.GenerateOptions{MaxTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range golden48[:12] {
		if res.Tokens[i] != want {
			t.Fatalf("f16 KV: token %d = %d, want %d", i, res.Tokens[i], want)
		}
	}
}

func TestABIChecksRejectMismatch(t *testing.T) {
	if err := checkMirrors(); err != nil {
		t.Fatal(err)
	}
	if err := checkVersions(PinLlamaVersion, PinGGMLVersion, PinGGMLCommit); err != nil {
		t.Fatal(err)
	}
	if err := checkVersions("0.6.0-dev", PinGGMLVersion, "abcdef0"); err == nil || !strings.Contains(err.Error(), "wrong llama.cpp build") {
		t.Errorf("other version: err = %v", err)
	}
	requireLib(t)
	l, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	cp := l.contextDefaultParams()
	if err := checkContextDefaults(cp); err != nil {
		t.Fatal(err)
	}
	cp.FlashAttnType = 0 // what a layout shifted by 4 bytes would read
	if err := checkContextDefaults(cp); err == nil || !strings.Contains(err.Error(), "ABI mismatch") {
		t.Errorf("shifted context params: err = %v", err)
	}
	mp := l.modelDefaultParams()
	if err := checkModelDefaults(mp); err != nil {
		t.Fatal(err)
	}
	mp.UseExtraBufts = false
	if err := checkModelDefaults(mp); err == nil {
		t.Error("changed model params accepted")
	}
}
