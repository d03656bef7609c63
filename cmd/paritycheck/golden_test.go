package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"github.com/metallic-go/metallic/internal/testenv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/gguf"
)

// goldenRun runs paritycheck with args and returns the exit code, stdout
// and stderr.
func goldenRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// goldenRepo returns a path relative to the repository root.
func goldenRepo(t *testing.T, rel string) string {
	return filepath.Join(testenv.RepoRoot(t), rel)
}

// goldenVerifyJSON is the part of `golden verify --json` the tests read.
type goldenVerifyJSON struct {
	Pass bool `json:"pass"`
	Rows []struct {
		Path       string   `json:"path"`
		Checkpoint string   `json:"checkpoint"`
		Layer      int      `json:"layer"`
		MaxAbs     *float64 `json:"max_abs"`
		RMSE       *float64 `json:"rmse"`
		NMSE       *float64 `json:"nmse"`
		Cos        *float64 `json:"cos"`
		Verdict    string   `json:"verdict"`
	} `json:"rows"`
	FirstFailure *struct {
		Checkpoint string `json:"checkpoint"`
		Layer      int    `json:"layer"`
	} `json:"first_failure"`
}

func TestGoldenVerifyCommitted(t *testing.T) {
	stories := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	// The embedded stories260K is the default model.
	code, out, errs := goldenRun("golden", "verify", stories, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var v goldenVerifyJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	// reference: embd + 5 layers × 15 kinds + output_norm + logits +
	// gen_logits + tokens = 80; dsl: what it materializes (its fused
	// checkpoints are absent) + gen_logits + tokens.
	ref := 0
	for _, r := range v.Rows {
		if r.Path == "reference" {
			ref++
		}
	}
	if !v.Pass || v.FirstFailure != nil || ref != 80 || len(v.Rows) <= 80 {
		t.Fatalf("pass %v, %d rows (%d reference), first failure %+v; want pass with 80 reference rows and some dsl rows", v.Pass, len(v.Rows), ref, v.FirstFailure)
	}
	for _, r := range v.Rows {
		if r.MaxAbs == nil || r.RMSE == nil || r.NMSE == nil || r.Cos == nil || r.Verdict != "pass" {
			t.Errorf("row %+v lacks numbers or does not pass", r)
		}
	}
	code, out, errs = goldenRun("golden", "verify", stories)
	if code != 0 || !strings.Contains(out, "blk.4.ffn_act") || !strings.Contains(out, fmt.Sprintf("all %d rows pass", len(v.Rows))) {
		t.Errorf("table: exit %d\n%s%s", code, out, errs)
	}
}

// junitCaseT is one JUnit testcase as the tests read it.
type junitCaseT struct {
	Name    string `xml:"name,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
}

func TestGoldenVerifyPerturbed(t *testing.T) {
	stories := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	junit := filepath.Join(t.TempDir(), "golden.xml")
	code, out, errs := goldenRun("golden", "verify", stories, "--perturb", "reference:blk.2.ffn_act=1e-3", "--junit", junit, "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	var v goldenVerifyJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if v.Pass || v.FirstFailure == nil || v.FirstFailure.Checkpoint != "blk.2.ffn_act" || v.FirstFailure.Layer != 2 {
		t.Fatalf("first failure %+v, want blk.2.ffn_act layer 2", v.FirstFailure)
	}
	if !strings.Contains(errs, "blk.2.ffn_act (layer 2) moved first") {
		t.Errorf("stderr does not name the checkpoint and layer: %s", errs)
	}
	// Upstream of the perturbation (reference rows come first, in
	// execution order) everything passes, far below the perturbed row
	// (exactly 0 right after a refresh; benign changes since then, such as
	// another rounding of the RoPE angles, may leave NMSE ~1e-13); the
	// unperturbed dsl run passes.
	upstream := true
	for _, r := range v.Rows {
		if r.Path == "reference" && r.Checkpoint == "blk.2.ffn_act" {
			upstream = false
			if *r.NMSE < 1e-7 {
				t.Errorf("perturbed row nmse %g, want ≈ (1e-3)²/3", *r.NMSE)
			}
		}
		if r.Path == "reference" && upstream && (r.Verdict != "pass" || *r.NMSE > 1e-11) {
			t.Errorf("%s moved upstream of the perturbation: nmse %g %s", r.Checkpoint, *r.NMSE, r.Verdict)
		}
		if r.Path == "dsl" && r.Verdict != "pass" {
			t.Errorf("dsl %s: %s", r.Checkpoint, r.Verdict)
		}
	}

	// The JUnit file: one testcase per row, failures with the numbers.
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []junitCaseT `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit is not well-formed: %v", err)
	}
	var cases []junitCaseT
	for _, s := range doc.Suites {
		cases = append(cases, s.Cases...)
	}
	if len(doc.Suites) != 2 || len(cases) != len(v.Rows) || doc.Tests != len(v.Rows) {
		t.Fatalf("JUnit has %d suites, %d tests; want 2 suites (reference, dsl) of %d", len(doc.Suites), doc.Tests, len(v.Rows))
	}
	failed := 0
	for i, c := range cases {
		if c.Name != v.Rows[i].Checkpoint {
			t.Errorf("testcase %d is %s, row is %s", i, c.Name, v.Rows[i].Checkpoint)
		}
		if (c.Failure != nil) != (v.Rows[i].Verdict != "pass") {
			t.Errorf("testcase %s failure %v, verdict %s", c.Name, c.Failure != nil, v.Rows[i].Verdict)
		}
		if c.Failure != nil {
			failed++
			if !strings.Contains(c.Failure.Message, "nmse") || !strings.Contains(c.Failure.Text, "max_abs") {
				t.Errorf("testcase %s failure lacks numbers: %+v", c.Name, c.Failure)
			}
		}
	}
	if failed == 0 || failed != doc.Failures {
		t.Errorf("%d failed cases, header says %d", failed, doc.Failures)
	}
}

func TestGoldenModelMismatch(t *testing.T) {
	qwen := goldenRepo(t, "testdata/golden/tiny-qwen2.golden.gguf")
	// The tiny-qwen2 golden checked against the default stories260K.
	code, _, errs := goldenRun("golden", "verify", qwen)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errs)
	}
	f, err := gguf.Open(qwen)
	if err != nil {
		t.Fatal(err)
	}
	recorded, _ := f.String("metallic.golden.model.sha256")
	f.Close()
	for _, want := range []string{recorded, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d", "model mismatch"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not contain %s:\n%s", want, errs)
		}
	}
}

func TestGoldenDamagedFiles(t *testing.T) {
	src := goldenRepo(t, "testdata/golden/stories260K.golden.gguf")
	good, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor("reference/blk.1.ffn_up")
	if !ok {
		t.Fatal("no reference/blk.1.ffn_up in the golden")
	}
	flipped := slices.Clone(good)
	flipped[f.DataOffset+ti.Offset+41] ^= 0x04
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"bitflip", flipped, `"reference/blk.1.ffn_up" checksum mismatch`},
		{"truncated", good[:f.DataOffset+ti.Offset+ti.Bytes/2], `"reference/blk.1.ffn_up"`},
		{"empty", nil, "corrupt"},
	} {
		p := filepath.Join(dir, tc.name+".gguf")
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errs := goldenRun("golden", "verify", p)
		if code != 2 || !strings.Contains(errs, tc.want) || strings.Contains(errs, "panic") {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming %s", tc.name, code, errs, tc.want)
		}
	}
}

func TestGoldenRecordThenVerify(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub.golden.gguf")
	code, so, errs := goldenRun("golden", "record", "--out", out, "--tokens", "1,403,407", "-n", "4",
		"--checkpoints", "blk.*.ffn_*,embd", "--f16", "--temp", "0.9", "--seed", "3", "--json")
	if code != 0 {
		t.Fatalf("record: exit %d\n%s", code, errs)
	}
	var rec struct {
		Checkpoints int              `json:"checkpoints"`
		Bytes       int64            `json:"bytes"`
		Streams     map[string][]int `json:"streams"`
	}
	if err := json.Unmarshal([]byte(so), &rec); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, so)
	}
	// embd + 5 layers × (ffn_inp, ffn_norm, ffn_gate, ffn_up, ffn_act, ffn_out) + logits.
	if rec.Checkpoints != 32 || len(rec.Streams["reference"]) != 4 {
		t.Errorf("recorded %d checkpoints, streams %v; want 32 and 4 tokens", rec.Checkpoints, rec.Streams)
	}
	code, so, errs = goldenRun("golden", "verify", out, "--json")
	if code != 0 || !strings.Contains(so, `"pass": true`) {
		t.Errorf("verify: exit %d\n%s%s", code, so, errs)
	}
	// Our inspect reads it as any GGUF file.
	code, so, errs = goldenRun("inspect", out, "--json")
	if code != 0 || !strings.Contains(so, `"reference/tokens"`) || !strings.Contains(so, "metallic.golden.model.sha256") {
		t.Errorf("inspect: exit %d\n%.2000s%s", code, so, errs)
	}
	for _, bad := range [][]string{
		{"golden", "record"},
		{"golden", "record", "--out", out, "--tokens", "1,x"},
		{"golden", "record", "--out", out, "--checkpoints", "blk.[", "--tokens", "1"},
		{"golden", "record", "--out", out, "--tokens", "1", "--paths", "nosuch"},
		{"golden", "verify"},
		{"golden", "verify", out, "--perturb", "reference:blk.x=1"},
		{"golden", "frobnicate"},
		{"golden"},
	} {
		if code, _, errs := goldenRun(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", bad, code, errs)
		}
	}
}
