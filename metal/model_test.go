package metal

import (
	"bytes"
	"slices"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/embedded"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/sample"

	_ "github.com/metallic-go/metallic/dsl"       // the dsl path
	_ "github.com/metallic-go/metallic/reference" // the reference path
)

// The model-level tests: both paths on a metal backend against ground
// truth. They take the backend's registry name: "metal" on a Mac
// (gpu_test.go), "metal-host" on Linux (the real Backend over the fake
// runtime whose GPU runs the MSL on the host, hostmodel_test.go).

// storiesGolden is stories260K's greedy continuation of BOS (DESIGN.md).
var storiesGolden = testenv.StoriesGreedy()

// openStories opens the embedded stories260K model.
func openStories(t testing.TB) *model.Model {
	t.Helper()
	f, err := gguf.Parse(embedded.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testStoriesGolden: both paths, f32 and f16 activations, generate the
// 48 golden ids greedily from BOS. runs lists path/act pairs to run (all
// four when empty).
func testStoriesGolden(t *testing.T, be string, runs ...string) {
	m := openStories(t)
	for _, path := range []string{"reference", "dsl"} {
		for _, act := range []string{"f32", "f16"} {
			if len(runs) > 0 && !slices.Contains(runs, path+"/"+act) {
				continue
			}
			t.Run(path+"/"+act, func(t *testing.T) {
				p, err := model.OpenPath(path, m, model.PathOptions{Backend: be, ActDType: act})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if p.Numerics() != string(backend.Plain) {
					t.Errorf("%s on %s declares %q numerics, want plain", path, be, p.Numerics())
				}
				res, err := model.Generate(p, []int32{testenv.StoriesBOS}, model.GenerateOptions{MaxTokens: len(storiesGolden)})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Tokens, storiesGolden) {
					i := 0
					for i < len(res.Tokens) && i < len(storiesGolden) && res.Tokens[i] == storiesGolden[i] {
						i++
					}
					t.Fatalf("tokens differ from the golden at index %d:\n got %v\nwant %v", i, res.Tokens, storiesGolden)
				}
			})
		}
	}
}

// renamed is a path under another name (parity keys rows and streams by
// name): "reference@metal".
type renamed struct {
	model.Path
	name string
}

func (r renamed) Name() string { return r.name }

// openOn opens a path on a backend, named path@backend.
func openOn(t testing.TB, m *model.Model, path, be, label string, opts model.PathOptions) model.Path {
	t.Helper()
	opts.Backend = be
	p, err := model.OpenPath(path, m, opts)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	t.Cleanup(func() { p.Close() })
	return renamed{p, label}
}

// testStepParity is `steps --paths reference@cpu,reference@metal,dsl@metal`
// on stories260K: every checkpoint of every path, prompt and three greedy
// decode steps, judged against the float64 local oracle (plain numerics
// everywhere) and against reference@cpu; any failing verdict fails the
// test with the table.
func testStepParity(t *testing.T, be string) {
	m := openStories(t)
	var targets []parity.Target
	for _, p := range []struct{ path, be, label string }{
		{"reference", "cpu", "reference@cpu"}, {"reference", be, "reference@metal"}, {"dsl", be, "dsl@metal"},
	} {
		targets = append(targets, parity.Target{Path: openOn(t, m, p.path, p.be, p.label, model.PathOptions{Numerics: "plain"}), DType: parity.F32})
	}
	st, err := parity.RunSteps(parity.StepsOptions{Targets: targets, Weights: &m.Weights, Prompt: testenv.StoriesPrompt(8), Decode: 3})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := parity.PrintSteps(&b, st, parity.PrintOptions{}); err != nil {
		t.Fatal(err)
	}
	if st.Failed() {
		t.Fatalf("step parity fails at %s (%s vs %s):\n%s", st.FirstFailure.Checkpoint, st.FirstFailure.A, st.FirstFailure.B, b.String())
	}
	if len(st.Rows) < 100 {
		t.Fatalf("only %d rows:\n%s", len(st.Rows), b.String())
	}
	t.Logf("%d rows pass\n%s", len(st.Rows), b.String())
}

// testTokenParity is `tokens --paths reference@cpu,reference@metal,dsl@metal
// -n N` with a seeded sampler: the streams agree with reference@cpu's but
// for tie flips, and the teacher-forced KL stays within the f32 limits.
func testTokenParity(t *testing.T, be string, n int) {
	m := openStories(t)
	paths := []model.Path{
		openOn(t, m, "reference", "cpu", "reference@cpu", model.PathOptions{Numerics: "plain"}),
		openOn(t, m, "reference", be, "reference@metal", model.PathOptions{}),
		openOn(t, m, "dsl", be, "dsl@metal", model.PathOptions{}),
	}
	tk, err := parity.RunTokens(parity.TokensOptions{Paths: paths, DType: parity.F32, Prompt: testenv.StoriesPrompt(4), N: n,
		Sampler: sample.Options{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 1337}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := parity.PrintTokens(&b, tk, parity.PrintOptions{}); err != nil {
		t.Fatal(err)
	}
	if tk.Failed() {
		t.Fatalf("token parity fails:\n%s", b.String())
	}
	if len(tk.Streams["reference@metal"]) != n || len(tk.Streams["dsl@metal"]) != n {
		t.Fatalf("streams %v", tk.Streams)
	}
	t.Logf("\n%s", b.String())
}
