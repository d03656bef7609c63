package repro

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// hooked is a path whose hook first shows each checkpoint to mark, as the
// path produced it (before any perturbation), then to the hook installed.
type hooked struct {
	model.Path
	mark model.Hook
}

func (h *hooked) SetHook(x model.Hook) {
	if x == nil {
		h.Path.SetHook(nil)
		return
	}
	h.Path.SetHook(parity.Chain(h.mark, x))
}

// hookedStages is hooked over a path with stage checkpoints.
type hookedStages struct {
	*hooked
	sp model.StagePath
}

func (h hookedStages) Stages() []model.Stage { return h.sp.Stages() }

// call is one forward call's dispatch of the checkpoint.
type call struct {
	pos, rows int
	d         *dispatch
	out       int    // the argument holding the output
	off       int    // byte offset of the call's first row in that argument's buffer
	elem      string // the output's storage: "f32" or "f16"
	data      []float32
}

// catcher takes, each time the path produces the checkpoint, the latest
// dispatch the recorder saw (the one that produced it) and finds where in
// its buffers the values are.
type catcher struct {
	rec   *recorder
	name  string
	calls []*call
	err   error
}

func (c *catcher) mark(t *model.Tensor) {
	if t.Name != c.name || c.err != nil {
		return
	}
	d := c.rec.last
	if d == nil {
		c.err = fmt.Errorf("repro: %s was produced before any dispatch", t.Name)
		return
	}
	cl := &call{pos: t.Pos, rows: t.Rows, d: d, out: -1, data: append([]float32(nil), t.Data...)}
	if err := c.locate(cl, t); err != nil {
		c.err = err
		return
	}
	c.calls = append(c.calls, cl)
}

// locate finds the buffer argument and offset of the dispatch's output:
// a buffer it did not wrap whose bytes from the argument's offset (or
// the buffer's start), at row 0 or at the call's first position (a KV
// cache), are the checkpoint's values in f32 or f16, preferring one the
// dispatch changed.
func (c *catcher) locate(cl *call, t *model.Tensor) error {
	type hit struct{ arg, off int }
	var found, changed []hit
	var elem string
	for _, e := range []string{"f32", "f16"} {
		want := encode(t.Data, e)
		row := t.Cols * len(want) / max(len(t.Data), 1)
		for i, a := range cl.d.args {
			rb, ok := a.Buf.(*recBuf)
			if a.Kind != backend.ArgBuffer || !ok || rb.wrapped != nil {
				continue
			}
			now, err := c.rec.contents(rb)
			if err != nil {
				return err
			}
			for _, off := range []int{a.Off, a.Off + t.Pos*row, 0, t.Pos * row} {
				if off < 0 || off+len(want) > len(now) || !bytes.Equal(now[off:off+len(want)], want) {
					continue
				}
				h := hit{i, off}
				found = append(found, h)
				if before := cl.d.before[rb]; !bytes.Equal(before[off:off+len(want)], want) {
					changed = append(changed, h)
				}
				break
			}
		}
		if len(found) > 0 {
			elem = e
			break
		}
	}
	switch {
	case len(changed) > 0:
		cl.out, cl.off = changed[0].arg, changed[0].off
	case len(found) > 0:
		cl.out, cl.off = found[0].arg, found[0].off
	default:
		return fmt.Errorf("repro: %s at position %d: no buffer of the dispatch of %s holds its values", t.Name, t.Pos, cl.d.spec.Name)
	}
	cl.elem = elem
	return nil
}

// encode stores values in a storage dtype, little-endian.
func encode(v []float32, elem string) []byte {
	if elem == "f16" {
		out := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], gguf.F32ToF16(x))
		}
		return out
	}
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// decode reads n values of a storage dtype.
func decode(b []byte, elem string, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		if elem == "f16" {
			out[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		} else {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return out
}

func elemSize(elem string) int {
	if elem == "f16" {
		return 2
	}
	return 4
}
