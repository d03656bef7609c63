package repro

import (
	"fmt"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
)

// replayCPU runs each call's dispatch again on a fresh cpu backend, from
// the buffers as they were before it ran, and returns the calls' outputs
// concatenated: the "CPU path" expectation (for a path on the cpu
// backend, the values it produced, unperturbed).
func replayCPU(calls []*call, cols int) ([]float32, error) {
	be := cpu.New(backend.Options{Threads: 1})
	defer be.Close()
	var out []float32
	for i, c := range calls {
		k, err := be.Load(c.d.spec)
		if err != nil {
			return nil, fmt.Errorf("repro: the cpu backend cannot run %s: %w", c.d.spec.Name, err)
		}
		bufs := map[*recBuf]backend.Buffer{}
		args := make([]backend.Arg, len(c.d.args))
		for j, a := range c.d.args {
			args[j] = a
			if a.Kind != backend.ArgBuffer {
				continue
			}
			rb := a.Buf.(*recBuf)
			b, ok := bufs[rb]
			if !ok {
				if rb.wrapped != nil {
					b, err = be.Wrap(rb.wrapped)
				} else if b, err = be.Alloc(rb.size); err == nil {
					err = be.Upload(b, 0, c.d.before[rb])
				}
				if err != nil {
					return nil, err
				}
				bufs[rb] = b
			}
			args[j].Buf = b
		}
		enc := be.Begin()
		enc.Dispatch(k, c.d.grid, args...)
		if err := enc.Commit(); err != nil {
			return nil, fmt.Errorf("repro: call %d on the cpu backend: %w", i, err)
		}
		n := c.rows * cols
		raw := make([]byte, n*elemSize(c.elem))
		if err := be.Download(raw, args[c.out].Buf, c.off); err != nil {
			return nil, err
		}
		out = append(out, decode(raw, c.elem, n)...)
		for _, b := range bufs {
			be.Free(b)
		}
	}
	return out, nil
}
