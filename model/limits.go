package model

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/metallic-go/metallic/internal/sysmem"
)

// MaxDefaultCtx caps the KV-cache capacity a path opens when
// PathOptions.Ctx is 0 (see Config.DefaultCtx).
const MaxDefaultCtx = 4096

// ErrTooLarge is wrapped by errors about a size beyond what the model or
// the machine allows (a context longer than the model's, a KV cache larger
// than the available memory).
var ErrTooLarge = errors.New("model: size out of range")

// ErrContextFull is wrapped by the error a path's Forward returns when the
// tokens do not fit in its KV cache (see ContextFull). Generate stops
// there instead of failing (GenerateResult.Stopped "context").
var ErrContextFull = errors.New("model: the context is full")

// sizeError is an error about a size; it wraps ErrTooLarge without
// repeating its text.
type sizeError struct{ msg string }

func (e *sizeError) Error() string        { return e.msg }
func (e *sizeError) Is(target error) bool { return target == ErrTooLarge }

func tooLarge(format string, a ...any) error { return &sizeError{fmt.Sprintf(format, a...)} }

// contextFull is the error of ContextFull.
type contextFull struct {
	path        string
	pos, n, ctx int
}

func (e *contextFull) Error() string {
	return fmt.Sprintf("%s: %d tokens at position %d exceed the context of %d positions (raise --ctx)", e.path, e.n, e.pos, e.ctx)
}

func (e *contextFull) Unwrap() error { return ErrContextFull }

// ContextFull returns the error a path's Forward reports when n tokens at
// position pos do not fit in its KV cache of ctx positions; it wraps
// ErrContextFull. path prefixes the message ("reference", "dsl", …).
func ContextFull(path string, pos, n, ctx int) error {
	return &contextFull{path: path, pos: pos, n: n, ctx: ctx}
}

// DefaultCtx returns the KV-cache capacity of a path opened with
// PathOptions.Ctx 0: min(ContextLen, MaxDefaultCtx), or MaxDefaultCtx when
// the context length is unknown.
func (c *Config) DefaultCtx() int {
	if c.ContextLen <= 0 {
		return MaxDefaultCtx
	}
	return min(c.ContextLen, MaxDefaultCtx)
}

// KVCacheBytes returns the bytes of a KV cache of ctx positions whose
// elements take elem bytes: a key and a value row of KVHeads·HeadDim
// elements per layer and position. It saturates at math.MaxUint64.
func (c *Config) KVCacheBytes(ctx, elem int) uint64 {
	return mulSat(2, uint64(max(c.Layers, 0)), uint64(max(ctx, 0)), uint64(max(c.KVHeads, 0)), uint64(max(c.HeadDim, 0)), uint64(max(elem, 0)))
}

// ContextSize returns the KV-cache capacity, in positions, a path opens
// for opts: opts.Ctx, or DefaultCtx when it is 0. Every path calls it, so
// that sizes are refused the same way before anything is allocated: a
// negative size, one beyond the model's context length (ContextLen, when
// known), or a KV cache larger than the memory the machine has available
// (see CheckMemory) is an error wrapping ErrTooLarge. The KV cache is
// sized with the element of its storage dtype, KVDTypeOf(opts): KVDType,
// or ActDType when KVDType is empty (2 bytes for "f16", else 4).
func ContextSize(c *Config, opts PathOptions) (int, error) {
	ctx := opts.Ctx
	switch {
	case ctx == 0:
		ctx = c.DefaultCtx()
	case ctx < 0:
		return 0, tooLarge("a context of %d positions: want ≥ 1 (0 = min(context length, %d))", ctx, MaxDefaultCtx)
	case c.ContextLen > 0 && ctx > c.ContextLen:
		return 0, tooLarge("a context of %d positions exceeds the model's context length of %d", ctx, c.ContextLen)
	}
	elem := KVElemBytes(opts)
	what := fmt.Sprintf("a KV cache of %d positions (%d layers × 2 × %d × %d-byte values)", ctx, c.Layers, c.KVHeads*c.HeadDim, elem)
	if err := CheckMemory(what, c.KVCacheBytes(ctx, elem)); err != nil {
		return 0, err
	}
	return ctx, nil
}

// KVElemBytes returns the bytes of one KV-cache element the options ask
// for: 2 when KVDTypeOf(opts) is "f16", else 4.
func KVElemBytes(opts PathOptions) int {
	if KVDTypeOf(opts) == "f16" {
		return 2
	}
	return 4
}

// CheckMemory returns an error wrapping ErrTooLarge when need bytes are
// more than the memory the machine has available for new allocations
// (sysmem.Available: MemAvailable on Linux); what names the use in the
// message. Where the available memory is unknown it returns nil.
func CheckMemory(what string, need uint64) error {
	avail, ok := sysmem.Available()
	if !ok || need <= avail {
		return nil
	}
	return tooLarge("%s needs %s, more than the %s of memory this machine has available", what, Bytes(need), Bytes(avail))
}

// Bytes formats a byte count for messages: "512 B", "3.2 MiB", "1.9 TiB".
func Bytes(n uint64) string {
	if n == math.MaxUint64 {
		return "more than 16 EiB"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 6 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i-1])
}

// mulSat multiplies, saturating at math.MaxUint64.
func mulSat(xs ...uint64) uint64 {
	for _, x := range xs {
		if x == 0 {
			return 0
		}
	}
	p := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(p, x)
		if hi != 0 {
			return math.MaxUint64
		}
		p = lo
	}
	return p
}
