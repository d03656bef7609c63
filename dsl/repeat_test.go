package dsl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNestedRepeatCap: repeats nested inside repeats multiply; the total
// of unrolled steps is capped (MaxUnrolledSteps), so a spec of two nested
// repeats of 4096 — 16.8 million steps — is refused at once with the JSON
// path of the repeat that crosses the cap, instead of compiling for
// minutes. The repeated step materializes no checkpoint (the checkpoint
// graph allows embd once, outside the blocks), so only the cap can stop it.
func TestNestedRepeatCap(t *testing.T) {
	m := openStories(t)
	inner := map[string]any{"op": "rmsnorm_gemv", "input": "x", "gamma": "output_norm", "eps": "eps", "w": "output", "out": "y"}
	nest := func(counts ...int) map[string]any {
		st := inner
		for i := len(counts) - 1; i >= 0; i-- {
			st = map[string]any{"op": "repeat", "count": counts[i], "var": string(rune('a' + i)), "steps": []any{st}}
		}
		return st
	}
	for _, tc := range []struct {
		name   string
		counts []int
	}{
		{"4096 x 4096", []int{4096, 4096}},
		{"64 x 64 x 64 x 64", []int{64, 64, 64, 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := mutate(t, func(s map[string]any) {
				fwd := s["forward"].([]any)
				s["forward"] = append([]any{fwd[0], nest(tc.counts...)}, fwd[1:]...)
			})
			s, err := Parse(spec)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				_, err := newFromSpec(m, s, Options{})
				done <- err
			}()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("compiling the nested repeats still runs after 60 s: the total is not capped")
			}
			var se *SpecError
			require.True(t, errors.As(err, &se), "error %v, want a SpecError", err)
			require.True(t, strings.HasPrefix(se.Path, "forward[1]"), "path %s", se.Path)
			require.Contains(t, se.Msg, "unrolls to more than 16384 steps")
		})
	}
}
