package golden

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// TestVerifyChecksPerturbations: VerifyOptions.Perturbations that could
// change nothing are refused before anything runs.
func TestVerifyChecksPerturbations(t *testing.T) {
	out, _ := recordFake(t, t.TempDir(), RecordOptions{})
	g, err := Open(out)
	require.NoError(t, err)
	stories := repoFile(t, "testdata/stories260K.gguf")
	for _, tc := range []struct {
		p    parity.Perturbation
		want string
	}{
		{parity.Perturbation{Path: "reference", Checkpoint: "blk.0.attn_norm", Rel: 1e-3}, `path "reference" is not in the golden (it records golden-fake)`},
		{parity.Perturbation{Path: fakePath, Checkpoint: "blk.5.attn_norm", Rel: 1e-3}, "the model has 5 layers"},
		{parity.Perturbation{Path: fakePath, Checkpoint: "blk.0.ffn_act", Rel: 1e-3}, "path golden-fake does not materialize ffn_act"},
	} {
		_, err := Verify(g, VerifyOptions{Model: stories, Perturbations: []parity.Perturbation{tc.p}})
		require.ErrorContains(t, err, tc.want)
	}
	// A valid one runs and is found.
	p := parity.Perturbation{Path: fakePath, Checkpoint: "blk.1.attn_norm", Rel: 1e-2, Seed: 1}
	rep, err := Verify(g, VerifyOptions{Model: stories, Perturbations: []parity.Perturbation{p}})
	require.NoError(t, err)
	require.False(t, rep.Pass)
	require.Equal(t, "blk.1.attn_norm", rep.FirstFailure.Checkpoint)
}

// TestFiniteRun: a recorded run holding a NaN or an infinity is refused,
// naming the checkpoint, position and column.
func TestFiniteRun(t *testing.T) {
	r := &Run{Path: "p", Checkpoints: []Checkpoint{
		{Name: "embd", Rows: 2, Cols: 3, Data: []float32{0, 1, 2, 3, 4, 5}},
		{Name: "blk.0.l_out", Rows: 2, Cols: 3, Data: []float32{0, 1, 2, 3, float32(math.Inf(-1)), 5}},
	}, GenLogits: Checkpoint{Name: tensorGenLogits, Rows: 1, Cols: 2, Data: []float32{1, float32(math.NaN())}}}
	err := finiteRun(r)
	require.ErrorIs(t, err, ErrNonFinite)
	require.ErrorContains(t, err, "p produced -Inf in blk.0.l_out at position 1, column 1")
	r.Checkpoints[1].Data[4] = 0
	require.ErrorContains(t, finiteRun(r), "produced NaN in gen_logits at position 0, column 1")
	r.GenLogits.Data[1] = 0
	require.NoError(t, finiteRun(r))
}

// TestVerifyBackendOverrideMerge: --backend may not turn two recorded
// paths into the same PATH@BACKEND.
func TestVerifyBackendOverrideMerge(t *testing.T) {
	g := &Golden{Meta: Meta{Paths: []string{"reference@cpu", "reference@gpu"}, Backend: "cpu"}}
	_, _, err := openRuns(g, nil, model.PathOptions{}, "plain", "cpu", nil)
	require.ErrorContains(t, err, "--backend cpu would run the recorded reference@cpu and reference@gpu both as reference@cpu")
	refs, err := (&Meta{Paths: []string{"reference", "dsl@cuda", "llamacpp"}, Backend: "metal"}).Refs()
	require.NoError(t, err)
	require.Equal(t, []model.PathRef{{Path: "reference", Backend: "metal"}, {Path: "dsl", Backend: "cuda"}, {Path: "llamacpp", Backend: "cpu"}}, refs)
}
