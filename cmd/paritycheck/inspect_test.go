package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"github.com/metallic-go/metallic/internal/testenv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

type inspectJSON struct {
	Arch        string         `json:"arch"`
	Version     uint32         `json:"version"`
	Alignment   int64          `json:"alignment"`
	TensorCount int            `json:"tensor_count"`
	FileBytes   int64          `json:"file_bytes"`
	Metadata    map[string]any `json:"metadata"`
	Tensors     []struct {
		Name  string  `json:"name"`
		Type  string  `json:"type"`
		Shape []int64 `json:"shape"`
		Bytes int64   `json:"bytes"`
	} `json:"tensors"`
}

func runInspectJSON(t *testing.T, args ...string) inspectJSON {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"inspect"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("inspect %q: exit %d: %s", args, code, stderr.String())
	}
	var out inspectJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("inspect %q: output is not one JSON object: %v\n%s", args, err, stdout.String())
	}
	return out
}

func TestInspectStoriesJSON(t *testing.T) {
	model := filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
	out := runInspectJSON(t, model, "--json")
	if out.Arch != "llama" || out.Version != 3 || out.Alignment != 32 || out.TensorCount != 48 || out.FileBytes != 1185376 {
		t.Errorf("arch %q version %d alignment %d tensor_count %d file_bytes %d",
			out.Arch, out.Version, out.Alignment, out.TensorCount, out.FileBytes)
	}
	if len(out.Tensors) != 48 {
		t.Fatalf("%d tensors, want 48", len(out.Tensors))
	}
	shapes := map[string][]int64{}
	for _, tn := range out.Tensors {
		if tn.Type != "F32" {
			t.Errorf("%s: type %s, want F32", tn.Name, tn.Type)
		}
		n := int64(4)
		for _, d := range tn.Shape {
			n *= d
		}
		if tn.Bytes != n {
			t.Errorf("%s: %d bytes, want %d", tn.Name, tn.Bytes, n)
		}
		shapes[tn.Name] = tn.Shape
	}
	for name, want := range map[string][]int64{
		"token_embd.weight": {64, 512}, "output.weight": {64, 512}, "output_norm.weight": {64},
		"blk.0.attn_q.weight": {64, 64}, "blk.0.attn_k.weight": {64, 32}, "blk.4.ffn_down.weight": {172, 64},
		"blk.2.ffn_gate.weight": {64, 172},
	} {
		if got := shapes[name]; !slices.Equal(got, want) {
			t.Errorf("%s shape %v, want %v", name, got, want)
		}
	}
	if out.Tensors[0].Name != "token_embd.weight" {
		t.Errorf("first tensor %q, want file order", out.Tensors[0].Name)
	}
	if v := out.Metadata["llama.embedding_length"]; v != float64(64) {
		t.Errorf("llama.embedding_length = %v", v)
	}
	tok, _ := out.Metadata["tokenizer.ggml.tokens"].(map[string]any)
	if tok["type"] != "array" || tok["elem"] != "string" || tok["len"] != float64(512) {
		t.Errorf("tokens summary %v", out.Metadata["tokenizer.ggml.tokens"])
	}
	full := runInspectJSON(t, "--full", "--json", model)
	toks, _ := full.Metadata["tokenizer.ggml.tokens"].([]any)
	if len(toks) != 512 || toks[1] != "<s>" {
		t.Errorf("--full tokens: %d entries", len(toks))
	}
}

func TestInspectTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"inspect"}, &stdout, &stderr); code != 0 { // embedded stories260K
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := stdout.String()
	for _, want := range []string{"GGUF v3", "token_embd.weight", "[64 512]", "131,072", "48 tensors", "llama.block_count", "array[string]"} {
		if !strings.Contains(s, want) {
			t.Errorf("table output lacks %q", want)
		}
	}
}

// inspectBadHeader builds a GGUF header by hand.
func inspectBadHeader(version uint32, nTensors, nKV uint64, rest ...byte) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, nTensors)
	b = binary.LittleEndian.AppendUint64(b, nKV)
	return append(b, rest...)
}

func TestInspectMalformed(t *testing.T) {
	dir := t.TempDir()
	valid, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	// Two 8-element F32 tensors "a" and "b", both at data offset 0.
	var infos []byte
	for _, name := range []string{"a", "b"} {
		infos = binary.LittleEndian.AppendUint64(infos, 1)
		infos = append(infos, name...)
		infos = binary.LittleEndian.AppendUint32(infos, 1) // n_dims
		infos = binary.LittleEndian.AppendUint64(infos, 8) // ne0
		infos = binary.LittleEndian.AppendUint32(infos, 0) // F32
		infos = binary.LittleEndian.AppendUint64(infos, 0) // offset
	}
	ob := inspectBadHeader(3, 2, 0, infos...)
	ob = append(ob, make([]byte, 64+64-len(ob)%32)...)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated magic"},
		{"not gguf", []byte("hello world, not a model"), "bad magic"},
		{"version 1", inspectBadHeader(1, 0, 0), "version 1 is not supported"},
		{"huge kv count", inspectBadHeader(3, 0, 1<<60), "metadata count"},
		{"truncated", valid[:5000], "truncated"},
		{"tensor data cut off", valid[:len(valid)-1000], "lies outside"},
		{"overlapping tensors", ob, `tensors "a" [0, 32) and "b" [0, 32) overlap`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".gguf")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"inspect", path}, {"inspect", path, "--json"}} {
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if code != 2 || !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), path) {
					t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", args, code, stderr.String(), c.want)
				}
				if stdout.Len() != 0 {
					t.Errorf("%v: stdout not empty: %q", args, stdout.String())
				}
			}
		})
	}
	for _, args := range [][]string{
		{"inspect", filepath.Join(dir, "missing.gguf")},
		{"inspect", "a.gguf", "b.gguf"},
		{"inspect", "--bogus"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// TestInspectLargeFileFast inspects a 4 GiB file (sparse: one declared
// tensor) and checks the sizes it reports, which need 64-bit arithmetic.
// (How long it takes is not asserted: speed is for benchmarks.)
func TestInspectLargeFileFast(t *testing.T) {
	const n = 1 << 30 // F32 elements: 4 GiB of data
	w := gguf.NewWriter()
	if err := w.AddKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	// Write the header for a 4 GiB tensor without materializing it: write
	// with a small stand-in, then patch its dimension and extend the file.
	if err := w.AddTensor("big.weight", gguf.TypeF32, []int64{1024, 1}, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	hdr := b[:f.DataOffset]
	i := bytes.Index(hdr, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1024), 1))
	if i < 0 {
		t.Fatal("dimension bytes not found")
	}
	binary.LittleEndian.PutUint64(hdr[i+8:], n/1024)
	path := filepath.Join(t.TempDir(), "big.gguf")
	if err := os.WriteFile(path, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, f.DataOffset+4*n); err != nil {
		t.Skipf("cannot make a sparse 4 GiB file here: %v", err)
	}
	out := runInspectJSON(t, path, "--json")
	if len(out.Tensors) != 1 || out.Tensors[0].Bytes != 4*n || out.FileBytes != f.DataOffset+4*n {
		t.Fatalf("inspect: %+v", out)
	}
}

// TestInspectOddMetadata: non-finite floats, arrays of arrays, empty and
// long arrays all render as valid JSON and as a table.
func TestInspectOddMetadata(t *testing.T) {
	w := gguf.NewWriter()
	long := make([]uint32, 17)
	for _, kv := range []struct {
		key string
		v   any
	}{
		{"general.architecture", "qwen2"},
		{"x.nan", float32(math.NaN())},
		{"x.inf", math.Inf(-1)},
		{"x.nested", []any{[]int32{1, 2}, []string{"a"}}},
		{"x.empty", []string{}},
		{"x.long", long},
		{"x.short", []float32{0.5, float32(math.Inf(1))}},
		{"x.text", "line one\nline two"},
	} {
		if err := w.AddKV(kv.key, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddTensor("t", gguf.TypeQ8_0, []int64{32, 2}, make([]byte, 68)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "odd.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	out := runInspectJSON(t, path, "--json")
	m := out.Metadata
	if out.Arch != "qwen2" || m["x.nan"] != "NaN" || m["x.inf"] != "-Inf" || len(m["x.nested"].([]any)) != 2 ||
		len(m["x.empty"].([]any)) != 0 || m["x.long"].(map[string]any)["len"] != float64(17) ||
		m["x.short"].([]any)[1] != "+Inf" || m["x.text"] != "line one\nline two" {
		t.Errorf("metadata %v", m)
	}
	if len(out.Tensors) != 1 || out.Tensors[0].Type != "Q8_0" || out.Tensors[0].Bytes != 68 {
		t.Errorf("tensors %+v", out.Tensors)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"inspect", path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"line one\nline two"`) {
		t.Errorf("table: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
