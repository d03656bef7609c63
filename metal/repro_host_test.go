//go:build linux

package metal_test

import (
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/repro"
)

// The repro of a dispatch run on the host-executed metal backend
// ("metal-host": the real backend whose GPU runs the MSL on the host with
// clangcheck.HostMSLLib): its host MSL runner executes the same kernel
// text with the same runtime, so it reproduces the step table's figures
// exactly and the path's output bit for bit: for a composed kernel of the
// dsl path (a passing checkpoint, a perturbed one that fails, a stage
// checkpoint of the unfused kernel) and for a built-in op of the
// reference path.
func TestHostReproExact(t *testing.T) {
	if _, err := clangcheck.Clang(); err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	file := filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf")
	for _, c := range []struct {
		name, path, checkpoint string
		unfuse                 bool
		perturb                string
		verdict                string
	}{
		{"dsl/ffn_act", "dsl", "blk.1.ffn_act", false, "", parity.Pass},
		{"dsl/q-perturbed", "dsl", "blk.2.q_rope", false, "dsl:blk.2.q_rope=1e-3", parity.Fail},
		{"dsl-unfused/swiglu-stage", "dsl", "blk.1.ffn_act.swiglu", true, "", parity.Pass},
		{"reference/attn_norm", "reference", "blk.0.attn_norm", false, "", parity.Pass},
		{"reference/attn_out", "reference", "blk.3.attn_out", false, "", parity.Pass},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ps []parity.Perturbation
			if c.perturb != "" {
				p, err := parity.ParsePerturb(c.perturb)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			dir := t.TempDir()
			res, err := repro.Write(repro.Options{File: file, Path: c.path, Checkpoint: c.checkpoint, Prompt: testenv.StoriesPrompt(5), Decode: 3,
				PathOptions: model.PathOptions{Backend: "metal-host", Numerics: "plain", Unfuse: c.unfuse}, Perturb: ps, Out: dir})
			if err != nil {
				t.Fatal(err)
			}
			if res.Row.Verdict != c.verdict {
				t.Fatalf("the step table's row is %s, want %s", res.Row.Verdict, c.verdict)
			}
			f, err := repro.RunHost(dir, repro.HostMSL)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Identical || !f.BitExact || f.NMSE != float64(res.Row.NMSE) || f.MaxULP != res.Row.MaxULP {
				t.Fatalf("the host MSL runner does not reproduce the table (nmse %g, want %g):\n%s", f.NMSE, float64(res.Row.NMSE), f.Output)
			}
			t.Logf("%d calls:\n%s", len(res.Manifest.Calls), f.Output)
		})
	}
}
