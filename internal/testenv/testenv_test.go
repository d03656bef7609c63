package testenv

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGGMLFeature: a bit-identity check runs when ggml's variant uses the
// feature; otherwise it skips, and fails under METALLIC_REQUIRE_ORACLES=1
// only when this CPU has the feature (a build that could use it is not
// the one that runs).
func TestGGMLFeature(t *testing.T) {
	for _, c := range []struct {
		name                   string
		uses, cpuHas, required bool
		wantSkip, wantFail     bool
		wantIn                 string
	}{
		{"variant uses it", true, true, true, false, false, ""},
		{"variant uses it, not required", true, true, false, false, false, ""},
		{"CPU lacks it, required", false, false, true, true, false, "this CPU"},
		{"CPU lacks it, not required", false, false, false, true, false, "no ggml build can use it"},
		{"CPU has it, required", false, true, true, true, true, "although this CPU has it"},
		{"CPU has it, not required", false, true, false, true, false, "although this CPU has it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason, fail := GGMLFeature("haswell", AVX512, c.uses, c.cpuHas, c.required)
			assert.Equal(t, c.wantSkip, reason != "", "skips: %q", reason)
			assert.Equal(t, c.wantFail, fail)
			if c.wantIn != "" {
				assert.Contains(t, reason, c.wantIn)
				assert.Contains(t, reason, "libggml-cpu-haswell")
			}
		})
	}
	assert.False(t, CPUHas("SSE9"), "unknown feature")
	if CPUHas(AVX512BF16) {
		assert.True(t, CPUHas(AVX512), "AVX512_BF16 implies the AVX-512 base")
	}
}

// TestStoriesGolden: the golden ids are the documented 48, copies are
// independent, and prompts start with BOS.
func TestStoriesGolden(t *testing.T) {
	g := StoriesGreedy()
	assert.Len(t, g, 48)
	assert.Equal(t, []int32{403, 407, 261, 378}, g[:4])
	assert.Equal(t, []int32{266, 267}, g[46:])
	g[0] = 0
	assert.Equal(t, int32(403), StoriesGreedy()[0], "StoriesGreedy returns a copy")
	p := StoriesPrompt(4)
	assert.Equal(t, []int32{StoriesBOS, 403, 407, 261}, p)
	assert.True(t, slices.Equal(StoriesPrompt(49)[1:], StoriesGreedy()))
}

// recorder is a testing.TB that records Fatal and Skip instead of ending
// the test; both unwind with a panic that run recovers.
type recorder struct {
	testing.TB
	failed, skipped string
}

type stop struct{}

func (r *recorder) Helper()        {}
func (r *recorder) Fatal(a ...any) { r.failed = fmt.Sprint(a...); panic(stop{}) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.failed = fmt.Sprintf(f, a...)
	panic(stop{})
}
func (r *recorder) Skip(a ...any) { r.skipped = fmt.Sprint(a...); panic(stop{}) }
func (r *recorder) Skipf(f string, a ...any) {
	r.skipped = fmt.Sprintf(f, a...)
	panic(stop{})
}

func (r *recorder) run(f func(t testing.TB)) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stop); !ok {
				panic(p)
			}
		}
	}()
	f(r)
}

// TestBrokenOracleFails: a C oracle that does not compile fails the test
// (it never reads as a skip, let alone a pass).
func TestBrokenOracleFails(t *testing.T) {
	GGMLLib(t)
	CC(t)
	r := &recorder{TB: t}
	r.run(func(tb testing.TB) {
		BuildGGMLOracle(tb, filepath.Join("internal", "testenv", "testdata", "broken_oracle.c"))
	})
	assert.Empty(t, r.skipped, "skipped")
	assert.Contains(t, r.failed, "does not compile")
}
