package golden

import (
	"bytes"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gguf_parser "github.com/gpustack/gguf-parser-go"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/sample"
)

var fakePrompt = []int32{1, 403, 407, 261}

// recordFake records the fake path on stories260K into dir.
func recordFake(t testing.TB, dir string, o RecordOptions) (string, *Golden) {
	t.Helper()
	o.Model = repoFile(t, "testdata/stories260K.gguf")
	o.Paths = []string{fakePath}
	if o.Prompt == nil {
		o.Prompt = fakePrompt
	}
	if o.N == 0 {
		o.N = 6
	}
	o.Created = time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	g, err := Record(o)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fake.golden.gguf")
	if err := g.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out, g
}

func TestRoundTrip(t *testing.T) {
	for _, f16 := range []bool{false, true} {
		t.Run(map[bool]string{false: "f32", true: "f16"}[f16], func(t *testing.T) {
			out, g := recordFake(t, t.TempDir(), RecordOptions{F16: f16, Sampler: sample.Options{Temperature: 0.8, TopK: 40, Seed: 7}})
			back, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			m := back.Meta
			if m.ModelSHA256 != "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d" {
				t.Errorf("model sha256 %s", m.ModelSHA256)
			}
			if m.Sampler != g.Meta.Sampler || m.Sampler.Seed != 7 || m.Sampler.TopK != 40 {
				t.Errorf("sampler got %+v, want %+v", m.Sampler, g.Meta.Sampler)
			}
			if !slices.Equal(m.PromptTokens, fakePrompt) || m.NGenerated != 6 || m.Created != g.Meta.Created {
				t.Errorf("meta got %+v", m)
			}
			if m.Arch != "llama" || m.Backend != "cpu" || m.ActDType != "f32" || !slices.Equal(m.Paths, []string{fakePath}) {
				t.Errorf("meta got arch %q backend %q act %q paths %v", m.Arch, m.Backend, m.ActDType, m.Paths)
			}
			wantStorage := map[bool]string{false: "f32", true: "f16"}[f16]
			if m.Storage != wantStorage || m.Policy.Name != "nmse-by-kind/v1/"+wantStorage {
				t.Errorf("storage %q policy %q", m.Storage, m.Policy.Name)
			}
			r, w := back.Runs[0], g.Runs[0]
			// 1 embd + 5 layers × 2 + logits.
			if len(r.Checkpoints) != 12 || len(w.Checkpoints) != 12 {
				t.Fatalf("got %d checkpoints, recorded %d, want 12", len(r.Checkpoints), len(w.Checkpoints))
			}
			for i, c := range r.Checkpoints {
				if c.Name != w.Checkpoints[i].Name || c.Layer != w.Checkpoints[i].Layer || !slices.Equal(c.Data, w.Checkpoints[i].Data) {
					t.Errorf("checkpoint %d: %s/%d differs from %s/%d", i, c.Name, c.Layer, w.Checkpoints[i].Name, w.Checkpoints[i].Layer)
				}
			}
			if r.Checkpoints[3].Name != "blk.1.attn_norm" || r.Checkpoints[3].Layer != 1 || r.Checkpoints[3].Rows != 4 || r.Checkpoints[3].Cols != 64 {
				t.Errorf("checkpoint 3 is %+v", r.Checkpoints[3].Name)
			}
			if !slices.Equal(r.Tokens, w.Tokens) || len(r.Tokens) != 6 || !slices.Equal(r.GenLogits.Data, w.GenLogits.Data) {
				t.Errorf("tokens %v, recorded %v", r.Tokens, w.Tokens)
			}
		})
	}
}

func TestVerifyPassesUnchanged(t *testing.T) {
	for _, f16 := range []bool{false, true} {
		out, _ := recordFake(t, t.TempDir(), RecordOptions{F16: f16})
		g, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		var stages []string
		rep, err := Verify(g, VerifyOptions{Model: repoFile(t, "testdata/stories260K.gguf"), Progress: func(s string) { stages = append(stages, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(stages) != 7 || stages[0] != fakePath+" prefill" || stages[6] != fakePath+" token 6/6" {
			t.Errorf("progress stages %q, want prefill and 6 tokens", stages)
		}
		if !rep.Pass || rep.FirstFailure != nil {
			t.Fatalf("f16=%v: verify failed: %+v", f16, rep.FirstFailure)
		}
		// 12 checkpoints + gen_logits + tokens; unchanged code reproduces exactly.
		if len(rep.Rows) != 14 {
			t.Errorf("got %d rows, want 14", len(rep.Rows))
		}
		for _, r := range rep.Rows {
			if r.NMSE != 0 || r.MaxAbs != 0 || r.Verdict != Pass {
				t.Errorf("f16=%v: %s: nmse %g max_abs %g verdict %s, want exact", f16, r.Checkpoint, r.NMSE, r.MaxAbs, r.Verdict)
			}
		}
	}
}

func TestVerifyPerturbed(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{})
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec  string
		layer int
	}{
		{"golden-fake:blk.2.attn_norm=1e-3", 2},
		{"golden-fake:blk.0.l_out=1e-2", 0},
		{"golden-fake:embd=1e-4", -1},
	} {
		p, err := parity.ParsePerturb(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(g, VerifyOptions{Model: repoFile(t, "testdata/stories260K.gguf"), Perturb: PerturbHooks([]parity.Perturbation{p})})
		if err != nil {
			t.Fatal(err)
		}
		f := rep.FirstFailure
		if rep.Pass || f == nil {
			t.Fatalf("%s: verify passed", tc.spec)
		}
		if f.Checkpoint != p.Checkpoint || f.Layer != tc.layer || f.Verdict != Fail {
			t.Errorf("%s: first failure %s layer %d (%s), want %s layer %d", tc.spec, f.Checkpoint, f.Layer, f.Verdict, p.Checkpoint, tc.layer)
		}
		// Everything upstream passes exactly.
		for _, r := range rep.Rows {
			if &r == f || r.Checkpoint == f.Checkpoint {
				break
			}
			if r.NMSE != 0 {
				t.Errorf("%s: upstream %s moved: nmse %g", tc.spec, r.Checkpoint, r.NMSE)
			}
		}
	}
}

func TestModelMismatch(t *testing.T) {
	dir := t.TempDir()
	out, _ := recordFake(t, dir, RecordOptions{})
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.gguf")
	b, err := os.ReadFile(repoFile(t, "testdata/stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	otherSum, _ := FileSHA256(other)
	_, err = Verify(g, VerifyOptions{Model: other})
	var mm *ModelMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a ModelMismatchError", err)
	}
	for _, want := range []string{g.Meta.ModelSHA256, otherSum, "stories260K.gguf", other} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestSelector(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{Checkpoints: []string{"blk.*.l_out", "embd"}})
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range g.Runs[0].Checkpoints {
		names = append(names, c.Name)
	}
	want := []string{"embd", "blk.0.l_out", "blk.1.l_out", "blk.2.l_out", "blk.3.l_out", "blk.4.l_out", "logits"}
	if !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	if _, err := Selector([]string{"blk.[.x"}); err == nil {
		t.Error("a malformed glob was accepted")
	}
}

func TestOpensInGGUFParser(t *testing.T) {
	out, g := recordFake(t, t.TempDir(), RecordOptions{F16: true})
	pf, err := gguf_parser.ParseGGUFFile(out)
	if err != nil {
		t.Fatal(err)
	}
	n := len(g.Runs[0].Checkpoints) + 2
	if len(pf.TensorInfos) != n {
		t.Errorf("gguf-parser-go sees %d tensors, want %d", len(pf.TensorInfos), n)
	}
	kv, ok := pf.Header.MetadataKV.Get(KeyModelSHA256)
	if !ok || kv.ValueString() != g.Meta.ModelSHA256 {
		t.Errorf("gguf-parser-go reads %s = %v", KeyModelSHA256, kv.Value)
	}
	var found bool
	for _, ti := range pf.TensorInfos {
		if ti.Name == fakePath+"/tokens" {
			found = true
			if ti.Type != gguf_parser.GGMLTypeI32 || len(ti.Dimensions) != 1 || ti.Dimensions[0] != 6 {
				t.Errorf("tokens tensor is %v %v", ti.Type, ti.Dimensions)
			}
		}
	}
	if !found {
		t.Error("gguf-parser-go does not list the tokens tensor")
	}
}

// junitDoc is an independent reading of the JUnit XML.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{})
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := parity.ParsePerturb("golden-fake:blk.3.attn_norm=1e-2")
	rep, err := Verify(g, VerifyOptions{Model: repoFile(t, "testdata/stories260K.gguf"), Perturb: PerturbHooks([]parity.Perturbation{p})})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, rep, "fake.golden.gguf"); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit is not well-formed XML: %v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 14 || doc.Tests != 14 {
		t.Fatalf("got %d suites, %d tests, want 1 suite of 14", len(doc.Suites), doc.Tests)
	}
	// blk.3.attn_norm, blk.3.l_out, blk.4.*, logits, gen_logits fail.
	fails := 0
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			fails++
		}
		if c.Name == "blk.3.attn_norm" && (c.Failure == nil || !strings.Contains(c.Failure.Message, "nmse")) {
			t.Errorf("blk.3.attn_norm failure is %+v", c.Failure)
		}
		if c.Name == "blk.2.l_out" && c.Failure != nil {
			t.Errorf("blk.2.l_out failed: %s", c.Failure.Message)
		}
	}
	if fails != doc.Failures || fails < 6 {
		t.Errorf("%d failing cases, header says %d, want ≥ 6", fails, doc.Failures)
	}
}

func TestPolicy(t *testing.T) {
	p, err := DefaultPolicy("f32")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"embd": 1e-12, "blk.3.ffn_act": 1e-9, "logits": 1e-9, "gen_logits": 1e-9, "something": 1e-9} {
		if got := p.Threshold(name); got != want {
			t.Errorf("Threshold(%s) = %g, want %g", name, got, want)
		}
	}
	if _, err := DefaultPolicy("q8_0"); err == nil {
		t.Error("DefaultPolicy(q8_0) succeeded")
	}
	_ = model.CheckpointName
}

// TestVerifyVerdicts edits a decoded golden in memory and checks each
// verdict: a checkpoint the path no longer produces, a changed shape, a
// changed token stream.
func TestVerifyVerdicts(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{})
	mf := repoFile(t, "testdata/stories260K.gguf")
	for _, tc := range []struct {
		name      string
		edit      func(g *Golden)
		first     string
		verdict   string
		note      string
		tokensRow string
	}{
		{"missing", func(g *Golden) {
			r := &g.Runs[0]
			c := r.Checkpoints[2]
			c.Name = "blk.0.ffn_act"
			r.Checkpoints = slices.Insert(r.Checkpoints, 3, c)
		}, "blk.0.ffn_act", Missing, "no longer produces", Pass},
		{"shape", func(g *Golden) {
			c := &g.Runs[0].Checkpoints[4]
			c.Rows, c.Cols = c.Cols, c.Rows
		}, "blk.1.l_out", Shape, "shape [4, 64], recorded [64, 4]", Pass},
		{"stream", func(g *Golden) {
			g.Runs[0].Tokens[3]++
		}, "gen_logits", Fail, "position 4", Fail},
		{"nan", func(g *Golden) {
			g.Runs[0].Checkpoints[0].Data[5] = float32(math.NaN())
		}, "embd", Fail, "non-finite", Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(g)
			rep, err := Verify(g, VerifyOptions{Model: mf})
			if err != nil {
				t.Fatal(err)
			}
			f := rep.FirstFailure
			if rep.Pass || f == nil || f.Checkpoint != tc.first || f.Verdict != tc.verdict || !strings.Contains(f.Note, tc.note) {
				t.Fatalf("first failure %+v, want %s %s with note %q", f, tc.first, tc.verdict, tc.note)
			}
			last := rep.Rows[len(rep.Rows)-1]
			if last.Checkpoint != "tokens" || last.Verdict != tc.tokensRow {
				t.Errorf("tokens row %s %s (%s), want %s", last.Checkpoint, last.Verdict, last.Note, tc.tokensRow)
			}
			if tc.name == "stream" {
				s := rep.Streams[fakePath]
				if s.FirstDivergence != 3 || !strings.Contains(last.Note, "step 3") {
					t.Errorf("first divergence %d (%s), want 3", s.FirstDivergence, last.Note)
				}
			}
		})
	}
}

func TestRecordBadSelection(t *testing.T) {
	_, err := Record(RecordOptions{
		Model: repoFile(t, "testdata/stories260K.gguf"), Paths: []string{fakePath}, Prompt: fakePrompt,
		N: 1, Checkpoints: []string{"blk.*.l_out", "blk.*.ffn_actt"},
	})
	if err == nil || !strings.Contains(err.Error(), "blk.*.ffn_actt match no checkpoint") || !strings.Contains(err.Error(), "blk.N.l_out") {
		t.Errorf("got %v, want an error naming the glob that matches nothing", err)
	}
}

// TestVerifySamplerChange records a sampled run and verifies it with
// another seed: the logits pass, the stream fails, and the note blames the
// sampler.
func TestVerifySamplerChange(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{N: 12, Sampler: sample.Options{Temperature: 1.5, Seed: 1}})
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	g.Meta.Sampler.Seed = 2
	rep, err := Verify(g, VerifyOptions{Model: repoFile(t, "testdata/stories260K.gguf")})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.FirstFailure
	if f == nil || f.Checkpoint != "tokens" || !strings.Contains(f.Note, "the sampler changed") {
		t.Fatalf("first failure %+v, want the tokens row blaming the sampler", f)
	}
}
