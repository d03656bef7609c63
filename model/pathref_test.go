package model

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePathRef(t *testing.T) {
	for _, tc := range []struct {
		in, def string
		want    PathRef
		err     string
	}{
		{in: "reference", want: PathRef{"reference", "cpu"}},
		{in: "reference", def: "cuda", want: PathRef{"reference", "cuda"}},
		{in: " dsl@cuda ", def: "metal", want: PathRef{"dsl", "cuda"}},
		{in: "llamacpp", def: "cuda", want: PathRef{"llamacpp", "cpu"}},
		{in: "llamacpp@cpu", want: PathRef{"llamacpp", "cpu"}},
		{in: "llamacpp@cuda", err: "llamacpp runs on ggml's CPU backend only"},
		{in: "", err: "empty path name"},
		{in: "@cuda", err: "empty path name"},
		{in: "dsl@", err: "empty backend"},
		{in: "dsl@cuda@cpu", err: "more than one @"},
		{in: "dsl/x", err: "may not contain"},
		{in: "dsl:blk.0", err: "may not contain"},
	} {
		got, err := ParsePathRef(tc.in, tc.def)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
	}
	require.Equal(t, "dsl@cuda", PathRef{"dsl", "cuda"}.String())
	require.Equal(t, "cuda", PathRef{"dsl", "cuda"}.Options(PathOptions{Backend: "cpu", Ctx: 7}).Backend)
}

func TestDisplayNames(t *testing.T) {
	one := []PathRef{{"reference", "cuda"}, {"dsl", "cuda"}}
	require.Equal(t, []string{"reference", "dsl"}, DisplayNames(one), "one backend: bare names")
	two := []PathRef{{"reference", "cpu"}, {"reference", "cuda"}, {"llamacpp", "cpu"}}
	require.Equal(t, []string{"reference@cpu", "reference@cuda", "llamacpp@cpu"}, DisplayNames(two), "two backends: every name with its backend")
	require.Empty(t, DisplayNames(nil))
}
