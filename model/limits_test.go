package model

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/internal/sysmem"
)

// bounded is a scripted path with a KV cache of ctx positions that fails
// as the real paths do when it is full.
type bounded struct {
	*scripted
	ctx int
}

func (b *bounded) Forward(tokens []int32, pos int) ([]float32, error) {
	if pos+len(tokens) > b.ctx {
		return nil, ContextFull(b.Name(), pos, len(tokens), b.ctx)
	}
	return b.scripted.Forward(tokens, pos)
}

// TestGenerateStopsAtContext: a full KV cache ends generation with the
// tokens so far and Stopped "context", not an error; MaxTokens far beyond
// the context (up to MaxInt) allocates nothing ahead.
func TestGenerateStopsAtContext(t *testing.T) {
	for _, maxTokens := range []int{8, 100000000000, math.MaxInt} {
		p := &bounded{scripted: newScripted(), ctx: 5}
		res, err := Generate(p, []int32{1, 2}, GenerateOptions{MaxTokens: maxTokens})
		require.NoError(t, err, "MaxTokens %d", maxTokens)
		// Positions 0-1 hold the prompt, 2-4 the first three tokens; the
		// fourth is sampled from position 4's logits and has no position.
		require.Equal(t, []int32{5, 5, 4, 3}, res.Tokens, "MaxTokens %d", maxTokens)
		require.Equal(t, "context", res.Stopped)
		require.Equal(t, 3, res.DecodeCalls)
	}
	// A prompt that does not fit is an error.
	p := &bounded{scripted: newScripted(), ctx: 1}
	_, err := Generate(p, []int32{1, 2}, GenerateOptions{MaxTokens: 1})
	require.ErrorIs(t, err, ErrContextFull)
	require.Contains(t, err.Error(), "2 tokens at position 0 exceed the context of 1 positions")
}

func TestKVCacheBytes(t *testing.T) {
	// stories260K: 5 layers, 4 KV heads of 8: 2·5·32·4 = 1280 bytes per
	// position in f32.
	c := &Config{Layers: 5, KVHeads: 4, HeadDim: 8, ContextLen: 2048}
	require.Equal(t, uint64(1280*2048), c.KVCacheBytes(2048, 4))
	require.Equal(t, uint64(640), c.KVCacheBytes(1, 2))
	require.Equal(t, uint64(0), c.KVCacheBytes(0, 4))
	huge := &Config{Layers: 1 << 20, KVHeads: 1 << 20, HeadDim: 1 << 20}
	require.Equal(t, uint64(math.MaxUint64), huge.KVCacheBytes(1<<30, 4), "saturates instead of wrapping")
}

func TestContextSize(t *testing.T) {
	stories := &Config{Layers: 5, KVHeads: 4, HeadDim: 8, ContextLen: 2048}
	long := &Config{Layers: 5, KVHeads: 4, HeadDim: 8, ContextLen: 1 << 20}
	for _, tc := range []struct {
		name string
		cfg  *Config
		opts PathOptions
		want int
		err  string
	}{
		{"default is the context length", stories, PathOptions{}, 2048, ""},
		{"default capped at 4096", long, PathOptions{}, MaxDefaultCtx, ""},
		{"explicit", stories, PathOptions{Ctx: 16}, 16, ""},
		{"the whole context", stories, PathOptions{Ctx: 2048}, 2048, ""},
		{"negative", stories, PathOptions{Ctx: -1}, 0, "a context of -1 positions: want ≥ 1"},
		{"beyond the model", stories, PathOptions{Ctx: 1000000000}, 0, "a context of 1000000000 positions exceeds the model's context length of 2048"},
		{"beyond the model by one", stories, PathOptions{Ctx: 2049}, 0, "exceeds the model's context length of 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ContextSize(tc.cfg, tc.opts)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrTooLarge)
				require.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestContextSizeMemory: a KV cache larger than the memory the machine
// has is refused with both numbers in the message.
func TestContextSizeMemory(t *testing.T) {
	avail, ok := sysmem.Available()
	if !ok {
		t.Skip("this platform does not report available memory: the memory check is off")
	}
	// 2 · 1024 layers · 2^24 positions · 2^14 · 4 bytes = 2^51 bytes (2 PiB).
	c := &Config{Layers: 1024, KVHeads: 128, HeadDim: 128, ContextLen: 1 << 24}
	require.Greater(t, c.KVCacheBytes(1<<24, 4), avail)
	_, err := ContextSize(c, PathOptions{Ctx: 1 << 24})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "needs 2.0 PiB, more than the")
	require.Contains(t, err.Error(), "of memory this machine has available")
	// f16 halves it.
	_, err = ContextSize(c, PathOptions{Ctx: 1 << 24, ActDType: "f16"})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "needs 1.0 PiB")
	// The KV cache's own dtype decides, not the activations': --kv f16
	// under f32 activations halves it, --kv f32 under f16 ones does not.
	_, err = ContextSize(c, PathOptions{Ctx: 1 << 24, KVDType: "f16"})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "needs 1.0 PiB")
	_, err = ContextSize(c, PathOptions{Ctx: 1 << 24, ActDType: "f16", KVDType: "f32"})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "needs 2.0 PiB")
}

func TestKVElemBytes(t *testing.T) {
	for _, tc := range []struct {
		opts PathOptions
		want int
	}{
		{PathOptions{}, 4},
		{PathOptions{ActDType: "f16"}, 2},
		{PathOptions{KVDType: "f16"}, 2},
		{PathOptions{ActDType: "f16", KVDType: "f32"}, 4},
	} {
		require.Equal(t, tc.want, KVElemBytes(tc.opts), "KVElemBytes(%+v)", tc.opts)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 3 << 30: "3.0 GiB",
		1 << 60: "1.0 EiB", math.MaxUint64: "more than 16 EiB",
	} {
		require.Equal(t, want, Bytes(n), "Bytes(%d)", n)
	}
}

func TestContextFullError(t *testing.T) {
	err := ContextFull("dsl", 3, 2, 4)
	require.True(t, errors.Is(err, ErrContextFull))
	require.True(t, strings.HasPrefix(err.Error(), "dsl: 2 tokens at position 3 exceed the context of 4 positions"))
}
