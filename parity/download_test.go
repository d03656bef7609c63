package parity

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/internal/fakegpu"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/parity/paths" // reference, dsl
)

// TestCaptureOnlyWithHook: on a GPU-like backend (the counting fake), the
// reference and dsl paths without a hook move nothing from the device but
// each forward call's logits, and wait once per call; with a hook (what
// steps, bisect, golden and fidelity install) every checkpoint the hook
// sees is downloaded once, and nothing else.
func TestCaptureOnlyWithHook(t *testing.T) {
	fakegpu.Register("fake")
	m, err := model.Open(testenv.Stories(t))
	require.NoError(t, err)
	defer m.Close()
	vocab := m.Config.Vocab
	calls := [][]int32{testenv.StoriesPrompt(5), {403}, {407}}
	for _, name := range []string{"reference", "dsl"} {
		t.Run(name, func(t *testing.T) {
			p, err := model.OpenPath(name, m, model.PathOptions{Backend: "fake"})
			require.NoError(t, err)
			defer p.Close()
			require.Equal(t, "plain", p.Numerics(), "a GPU-like backend defaults to plain")
			require.Equal(t, "fake", model.BackendOf(p))
			fb, ok := p.(model.BackendPath).Backend().(*fakegpu.Backend)
			require.True(t, ok, "%s's backend is %T", name, p.(model.BackendPath).Backend())
			run := func() (fakegpu.Counts, int64, int) {
				p.Reset()
				before := fb.Counts()
				pos, logits := 0, int64(0)
				for _, c := range calls {
					lg, err := p.Forward(c, pos)
					require.NoError(t, err)
					require.Len(t, lg, len(c)*vocab)
					pos += len(c)
					logits += int64(4 * len(lg))
				}
				after := fb.Counts()
				return fakegpu.Counts{Uploads: after.Uploads - before.Uploads, Downloads: after.Downloads - before.Downloads,
					Syncs: after.Syncs - before.Syncs, Commits: after.Commits - before.Commits, Begins: after.Begins - before.Begins,
					DownloadBytes: after.DownloadBytes - before.DownloadBytes}, logits, len(calls)
			}
			got, logits, n := run()
			want := int64(n)
			require.Equal(t, want, got.Downloads, "downloads without a hook: the logits of each call only")
			require.Equal(t, logits, got.DownloadBytes, "bytes downloaded without a hook")
			require.Equal(t, want, got.Syncs, "waits without a hook: one per forward call")
			require.Equal(t, want, got.Commits, "batches without a hook: one per forward call")
			require.Equal(t, want, got.Uploads, "uploads without a hook: the token ids (and position) of each call")

			// With a hook: one download per checkpoint handed to it (of
			// exactly its bytes), plus the logits of each call.
			hooked, bytes := int64(0), int64(0)
			p.SetHook(func(t *model.Tensor) {
				hooked++
				bytes += int64(4 * len(t.Data))
			})
			got, logits, _ = run()
			p.SetHook(nil)
			require.Greater(t, hooked, int64(3*n), "the hook saw the checkpoints")
			require.Equal(t, hooked+want, got.Downloads, "downloads with a hook: each checkpoint once, then the logits")
			require.Equal(t, bytes+logits, got.DownloadBytes, "bytes downloaded with a hook (f32 activations)")

			// And removing the hook goes back to the logits alone.
			got, _, _ = run()
			require.Equal(t, want, got.Downloads, "downloads after SetHook(nil)")
		})
	}
}
