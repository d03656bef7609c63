package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// TestGoldenVerifyRefusesPerturbations: a --perturb that could change
// nothing is exit 2 in golden verify, as in steps and bisect: a path the
// golden does not record, an unknown path, a layer the model lacks, a
// checkpoint the path never produces.
func TestGoldenVerifyRefusesPerturbations(t *testing.T) {
	g := goldenRepo(t, "testdata/golden/stories260K.golden.gguf") // records reference and dsl
	for _, tc := range []struct {
		perturb, want string
	}{
		{"llamacpp:blk.0.ffn_act=1e-3", `path "llamacpp" is not in the golden (it records reference,dsl)`},
		{"nosuch:blk.0.ffn_act=1e-3", `path "nosuch" is not in the golden`},
		{"reference:blk.7.ffn_act=1e-3", "the model has 5 layers"},
		{"dsl:blk.0.attn_norm=1e-3", "path dsl does not materialize attn_norm"},
	} {
		t.Run(tc.perturb, func(t *testing.T) {
			code, stdout, stderr := goldenRun("golden", "verify", g, "--perturb", tc.perturb, "--json")
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %.200q, want nothing", stdout)
			}
		})
	}
	// steps, bisect, tokens and fidelity refuse the same perturbations;
	// fidelity also one aimed at its second path, whose outputs are inputs.
	m := genStories(t)
	for _, cmd := range []string{"steps", "bisect", "tokens", "fidelity"} {
		code, _, stderr := genRun(cmd, m, "--paths", "reference,dsl", "--perturb", "dsl:blk.0.attn_norm=1e-3")
		if code != 2 || !strings.Contains(stderr, "path dsl does not materialize attn_norm") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	code, _, stderr := genRun("fidelity", m, "--paths", "reference,dsl", "--perturb", "dsl:blk.0.ffn_act=1e-3")
	if want := "fidelity perturbs the first path (reference) only"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("fidelity: exit %d, stderr %q; want exit 2 saying %q", code, stderr, want)
	}
}

// nanModel writes a copy of stories260K whose output norm holds a NaN.
func nanModel(t *testing.T) string {
	t.Helper()
	src := genStories(t)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor("output_norm.weight")
	if !ok || ti.Type != gguf.TypeF32 {
		t.Fatal("stories260K has no F32 output_norm.weight")
	}
	binary.LittleEndian.PutUint32(data[f.DataOffset+ti.Offset:], math.Float32bits(float32(math.NaN())))
	p := filepath.Join(t.TempDir(), "nan.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGoldenRecordNonFinite: a model producing non-finite values is exit 2
// in golden record, as in logits, and no golden is written.
func TestGoldenRecordNonFinite(t *testing.T) {
	m := nanModel(t)
	if code, _, stderr := genRun("logits", m, "--tokens", "1"); code != 2 || !strings.Contains(stderr, "non-finite") {
		t.Errorf("logits: exit %d, stderr %q", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "nan.golden.gguf")
	code, stdout, stderr := genRun("golden", "record", m, "--out", out, "--tokens", "1", "-n", "2")
	if code != 2 || !strings.Contains(stderr, "produced NaN in output_norm at position 0, column 0") {
		t.Errorf("golden record: exit %d, stderr %q; want exit 2 naming output_norm", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a golden was written: stat %v", err)
	}
}
