package parity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/internal/fakegpu"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// openCross opens stories260K with paths (PATH@BACKEND allowed) on the
// plain-only fake GPU backend "fake" beside the cpu.
func openCross(t *testing.T, o SessionOptions) *Session {
	t.Helper()
	fakegpu.Register("fake")
	s, err := Open(testenv.Stories(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionPathRefs: PATH@BACKEND opens each path on its own backend
// with that backend's default numerics; names are bare while every path
// runs on one backend and PATH@BACKEND once they span two; the same
// PATH@BACKEND twice is refused, the same path on two backends is not.
func TestSessionPathRefs(t *testing.T) {
	s := openCross(t, SessionOptions{Paths: []string{"reference@cpu", "reference@fake", "dsl@fake"}})
	require.Equal(t, []string{"reference@cpu", "reference@fake", "dsl@fake"}, s.Names())
	want := map[string]string{"reference@cpu": "ggml-cpu", "reference@fake": "plain", "dsl@fake": "plain"}
	for _, tg := range s.Targets {
		require.Equal(t, want[tg.DisplayName()], tg.Path.Numerics(), tg.DisplayName())
	}
	setup := s.Setup()
	require.Equal(t, "cpu", setup.Backends["reference@cpu"].Backend)
	require.True(t, strings.HasPrefix(setup.Backends["reference@cpu"].Provenance, "cpu: "), setup.Backends["reference@cpu"].Provenance)
	require.Equal(t, "fake", setup.Backends["dsl@fake"].Backend)
	require.Contains(t, setup.Header(), "backend of reference@fake: fake: ")

	one := openCross(t, SessionOptions{Paths: []string{"reference", "dsl"}, PathOptions: model.PathOptions{Backend: "fake"}})
	require.Equal(t, []string{"reference", "dsl"}, one.Names(), "one backend: bare names, as before")
	require.Equal(t, "fake", one.Targets[0].Ref().Backend)

	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"reference@cpu", "reference"}, "path reference@cpu given twice"},
		{[]string{"reference@", "dsl"}, "empty backend"},
		{[]string{"llamacpp@fake"}, "llamacpp runs on ggml's CPU backend only"},
		{[]string{"reference@nosuch"}, `unknown backend "nosuch"`},
	} {
		_, err := Open(testenv.Stories(t), SessionOptions{Paths: tc.paths})
		require.ErrorContains(t, err, tc.want, "%v", tc.paths)
	}
	_, err := Open(testenv.Stories(t), SessionOptions{Paths: []string{"reference@fake"}, PathOptions: model.PathOptions{Numerics: "ggml-cpu"}})
	require.ErrorContains(t, err, "reference@fake")
	require.ErrorContains(t, err, "ggml-cpu")
}

// TestStepsAcrossBackends: the same path on two backends is judged by each
// against its local float64 oracle and, in the pair row, by the no-worse
// rule — never bit identity; rows, traces and numerics are keyed by the
// full names; a perturbation aimed at one backend's path is bisected to
// its checkpoint on that path only.
func TestStepsAcrossBackends(t *testing.T) {
	s := openCross(t, SessionOptions{Paths: []string{"reference@cpu", "reference@fake", "dsl@fake"},
		PathOptions: model.PathOptions{Numerics: "plain"}})
	prompt := testenv.StoriesPrompt(6)
	st, err := RunSteps(StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: prompt, Decode: 2})
	require.NoError(t, err)
	require.Nil(t, st.FirstFailure, "every checkpoint within bounds")
	require.Equal(t, []string{"reference@cpu", "reference@fake", "dsl@fake"}, st.Paths)
	require.Equal(t, "plain", st.Numerics["reference@fake"])
	pairs, locals := 0, 0
	for _, r := range st.Rows {
		switch {
		case r.A == "reference@fake" && r.B == "reference@cpu" && r.Verdict == Pass:
			pairs++
			require.Greater(t, float64(r.Bound), 0.0, "%s: a pair row is bounded by the no-worse rule", r.Checkpoint)
			require.Contains(t, r.Note, "rmse vs f64")
		case r.B == LocalOracle && r.A == "reference@fake":
			locals++
		}
	}
	require.Greater(t, pairs, 50)
	require.Greater(t, locals, 50)

	ps := []Perturbation{{Path: "dsl@fake", Checkpoint: "blk.3.ffn_act", Rel: 1e-3, Seed: 1}}
	st, err = RunSteps(StepsOptions{Targets: s.Targets, Weights: &s.Model.Weights, Prompt: prompt, Decode: 2, Perturb: ps})
	require.NoError(t, err)
	require.Equal(t, []string{"dsl@fake:blk.3.ffn_act=0.001"}, st.Perturb)
	b, err := Bisect(st)
	require.NoError(t, err)
	require.True(t, b.Found)
	require.Equal(t, "blk.3.ffn_act", b.Checkpoint)
	require.Equal(t, "dsl@fake", b.Path)
	require.Equal(t, LocalOracle, b.Against)

	err = CheckPerturbations(s.Targets, []Perturbation{{Path: "dsl", Checkpoint: "blk.0.ffn_act", Rel: 1}})
	require.ErrorContains(t, err, `path "dsl" is not being run (paths: reference@cpu,reference@fake,dsl@fake)`)
	rp := ResolvePerturbations([]Perturbation{{Path: "dsl", Checkpoint: "blk.0.ffn_act"}, {Path: "reference", Checkpoint: "blk.0.ffn_act"}}, s.Targets, "fake")
	require.Equal(t, "dsl@fake", rp[0].Path)
	require.Equal(t, "reference@fake", rp[1].Path)
}

// TestTokensAcrossBackends: streams, pairs and numerics are keyed by the
// names given; two paths of the same name are refused.
func TestTokensAcrossBackends(t *testing.T) {
	s := openCross(t, SessionOptions{Paths: []string{"reference@cpu", "reference@fake"}, PathOptions: model.PathOptions{Numerics: "plain"}})
	tk, err := RunTokens(TokensOptions{Paths: s.Paths(), Names: s.Names(), DType: F32, Prompt: testenv.StoriesPrompt(1), N: 12, Setup: s.Setup()})
	require.NoError(t, err)
	require.Equal(t, testenv.StoriesGreedy()[:12], tk.Streams["reference@cpu"])
	require.Equal(t, testenv.StoriesGreedy()[:12], tk.Streams["reference@fake"])
	require.Equal(t, "reference@cpu", tk.A)
	require.Equal(t, "reference@fake", tk.B)
	require.False(t, tk.Failed())
	require.Contains(t, tk.Backends, "reference@fake")
	_, err = RunTokens(TokensOptions{Paths: s.Paths(), DType: F32, Prompt: []int32{1}, N: 2, Sampler: sample.Options{}})
	require.ErrorContains(t, err, `two paths named "reference"`)
}

// TestFidelityAcrossBackends: the same path on two backends promises no
// bit identity; each op of A on B's inputs is judged against its float64
// oracle (every one within bounds here), and a perturbed op of A is the
// first out of bounds — the localization that names a GPU kernel.
func TestFidelityAcrossBackends(t *testing.T) {
	s := openCross(t, SessionOptions{Paths: []string{"reference@fake", "reference@cpu"}, PathOptions: model.PathOptions{Numerics: "plain"}})
	a, b := s.Targets[0], s.Targets[1]
	pr := BitIdentity(a.Path, b.Path, s.Model)
	require.False(t, pr.BitIdentical)
	require.Contains(t, pr.Why, "never bit for bit")
	o := FidelityOptions{A: a, B: b, Prompt: testenv.StoriesPrompt(4), Decode: 2, Weights: &s.Model.Weights}
	f, err := RunFidelity(o)
	require.NoError(t, err)
	require.True(t, f.Judged)
	require.Nil(t, f.FirstFailure)
	require.Equal(t, "reference@fake", f.A)
	require.Len(t, f.Rows, 3*(3+5*15), "3 forward calls × (3 global + 5 layers × 15 kinds)")
	for _, r := range f.Rows {
		require.Equal(t, Pass, r.Verdict, r.Checkpoint)
		require.Greater(t, float64(r.Bound), 0.0)
	}
	o.Perturb = Perturbation{Checkpoint: "blk.2.ffn_up", Rel: 1e-3, Seed: 1}.Hook()
	f, err = RunFidelity(o)
	require.NoError(t, err)
	require.NotNil(t, f.FirstFailure)
	require.Equal(t, "blk.2.ffn_up", f.FirstFailure.Checkpoint)
	require.Greater(t, float64(f.FirstFailure.OracleNMSE), float64(f.FirstFailure.Bound))
	require.Less(t, float64(f.FirstFailure.OracleNMSEB), float64(f.FirstFailure.Bound), "B's own op is within bounds")
	var out strings.Builder
	require.NoError(t, PrintFidelity(&out, f))
	require.Contains(t, out.String(), "FIRST OP OUT OF BOUNDS: blk.2.ffn_up (layer 2, op ffn_up)")
	require.Contains(t, out.String(), "a = reference@fake (its ops checked), b = reference@cpu (the inputs)")
}
