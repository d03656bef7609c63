package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
)

// lcRequire skips (or fails with METALLIC_REQUIRE_ORACLES=1) without the
// llama.cpp library.
func lcRequire(t *testing.T) {
	t.Helper()
	if err := llamacpp.Available(); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("llama.cpp unavailable: %v", err))
	}
}

func TestLlamacppLogitsMatchPath(t *testing.T) {
	lcRequire(t)
	file := genStories(t)
	code, stdout, stderr := genRun("logits", file, "--tokens", "1,403,407,261", "--path", "llamacpp", "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float32 `json:"logits"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := llamacpp.New(m, llamacpp.Options{PathOptions: model.PathOptions{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want, err := p.Forward([]int32{1, 403, 407, 261}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Logits) != 4 {
		t.Fatalf("%d rows, want 4", len(got.Logits))
	}
	for r, row := range got.Logits {
		for i, v := range row {
			if math.Float32bits(v) != math.Float32bits(want[r*512+i]) {
				t.Fatalf("row %d logit %d: CLI %v, llama.cpp %v", r, i, v, want[r*512+i])
			}
		}
	}
}

func TestLlamacppGenerateGolden(t *testing.T) {
	lcRequire(t)
	code, stdout, stderr := genRun("generate", genStories(t), "--tokens", "1", "-n", "48", "--path", "llamacpp", "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Tokens []int32 `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tokens, storiesGolden) {
		t.Errorf("tokens\n got %v\nwant %v", got.Tokens, storiesGolden)
	}
}

func TestLlamacppSteps(t *testing.T) {
	lcRequire(t)
	qwen := filepath.Join(t.TempDir(), "tiny-qwen2.gguf")
	if code, _, stderr := genRun("synth", "--preset", "tiny-qwen2", "--out", qwen); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	for name, file := range map[string]string{"stories260K": genStories(t), "tiny-qwen2": qwen} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := genRun("steps", file, "--paths", "reference,llamacpp", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct {
				Rows []struct {
					Checkpoint string `json:"checkpoint"`
					Layer      int    `json:"layer"`
					A          string `json:"a"`
					B          string `json:"b"`
					Verdict    string `json:"verdict"`
				} `json:"rows"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, r := range got.Rows {
				if r.A == "llamacpp" && r.B == "reference" {
					seen[r.Checkpoint] = r.Verdict
				}
			}
			m, err := model.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			want := model.NewGraph(&m.Config).Names()
			m.Close()
			for _, n := range want {
				if v, ok := seen[n]; !ok || v != "pass" {
					t.Errorf("llamacpp vs reference %s: verdict %q (present %v)", n, v, ok)
				}
			}
			if len(seen) != len(want) {
				t.Errorf("%d llamacpp-vs-reference rows, want %d", len(seen), len(want))
			}
		})
	}
}

func TestLlamacppBadInput(t *testing.T) {
	lcRequire(t)
	file := genStories(t)
	t.Run("wrong library folder", func(t *testing.T) {
		t.Setenv(llamacpp.EnvDir, t.TempDir())
		code, _, stderr := genRun("logits", file, "--tokens", "1", "--path", "llamacpp", "--json")
		if code != 2 || !strings.Contains(stderr, "lacks libggml-base.so") {
			t.Errorf("exit %d, stderr %q; want 2 and a missing-library message", code, stderr)
		}
	})
	t.Run("model llama.cpp rejects", func(t *testing.T) {
		// A vocabulary type llama.cpp does not know; our loader does not
		// read the vocabulary for logits.
		src, err := gguf.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		w := gguf.NewWriter()
		for _, kv := range src.KV {
			v := kv.Value
			if kv.Key == "tokenizer.ggml.model" {
				v = "nosuchtokenizer"
			}
			if kv.Key != "general.alignment" {
				if err := w.AddKV(kv.Key, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range src.Tensors {
			ti := &src.Tensors[i]
			if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, src.Data(ti)); err != nil {
				t.Fatal(err)
			}
		}
		bad := filepath.Join(t.TempDir(), "bad.gguf")
		if err := w.WriteFile(bad); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := genRun("logits", bad, "--tokens", "1", "--path", "llamacpp", "--json")
		if code != 2 || !strings.Contains(stderr, "llama.cpp") {
			t.Errorf("exit %d, stderr %q; want 2 and llama.cpp's reason", code, stderr)
		}
		t.Log(strings.TrimSpace(stderr))
	})
}
