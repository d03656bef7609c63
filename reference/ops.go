package reference

import (
	"encoding/binary"
	"math"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
)

// The helpers below record one built-in op each into the current encoder.
// They are as plain as llama2.c's: the shapes are in the forward files.

// run records op over grid g; the first error stops the forward call.
// The arguments are copied into the call's argument arena (reset by each
// forward call, after the previous one has finished), so recording a
// dispatch allocates nothing.
func (c *Context) run(op string, w gguf.Type, out backend.DType, g backend.Grid, args ...backend.Arg) {
	if c.err != nil {
		return
	}
	k, err := c.kernel(op, w, out)
	if err != nil {
		c.err = err
		return
	}
	n := len(c.argArena)
	c.argArena = append(c.argArena, args...)
	c.enc.Dispatch(k, g, c.argArena[n:len(c.argArena):len(c.argArena)]...)
}

// pos is the Pos argument of the current forward call: the int32 stored
// after its T token ids (Forward uploads both at once).
func (c *Context) pos(T int) backend.Arg { return backend.BufAt(c.ids, 4*T) }

// wbuf returns a weight's buffer.
func (c *Context) wbuf(w *model.Weight) backend.Arg {
	b, err := c.wrap(w)
	if err != nil && c.err == nil {
		c.err = err
	}
	return backend.Buf(b)
}

// embed: out[t,:] = token_embd[ids[t],:].
func (c *Context) embed(out backend.Buffer, T int) {
	w := &c.m.Weights.Embd
	c.run(backend.OpEmbed, w.Type, c.act, backend.Grid{X: T}, backend.Buf(out), c.wbuf(w), backend.Buf(c.ids), backend.Int(c.cfg.Dim))
}

// rmsnorm: out[r,:] = x[r,:]/sqrt(mean(x[r,:]²)+eps)·γ over rows of n.
func (c *Context) rmsnorm(out, x backend.Buffer, g *model.Weight, rows, n int) {
	c.run(backend.OpRMSNorm, g.Type, c.act, backend.Grid{X: rows},
		backend.Buf(out), backend.Buf(x), c.wbuf(g), backend.Int(n), backend.Float(c.cfg.NormEps))
}

// matmul: out[t,:] = W·x[t,:] for T rows (W is N rows of K). Under
// ggml-cpu x is first rounded as llama.cpp rounds activations for W's
// dtype (OpMatMulQ: f16 for F16 weights, Q8_0 blocks for Q8_0/Q4_0…, Q8_K
// for k-quants); under plain it is multiplied as stored (OpMatMul).
func (c *Context) matmul(out, x backend.Buffer, w *model.Weight, T int) {
	c.run(c.mm, w.Type, c.act, backend.Grid{X: w.N},
		backend.Buf(out), backend.Buf(x), c.wbuf(w), backend.Int(w.K), backend.Int(w.N), backend.Int(T))
}

// lmHead is matmul with float32 output (the logits). In a ForwardLast
// call (c.last) it multiplies the last of the T rows alone, into row 0.
func (c *Context) lmHead(out, x backend.Buffer, w *model.Weight, T int) {
	in := backend.Buf(x)
	if c.last {
		in, T = backend.BufAt(x, (T-1)*w.K*c.act.Size()), 1
	}
	c.run(c.mm, w.Type, backend.F32, backend.Grid{X: w.N},
		backend.Buf(out), in, c.wbuf(w), backend.Int(w.K), backend.Int(w.N), backend.Int(T))
}

// addBias: x[t,:] += b, in place.
func (c *Context) addBias(x backend.Buffer, b *model.Weight, T int) {
	c.run(backend.OpAddBias, b.Type, c.act, backend.Grid{X: T}, backend.Buf(x), backend.Buf(x), c.wbuf(b), backend.Int(b.K))
}

// rope rotates every head of x [T, heads·hd] in place at positions pos….
func (c *Context) rope(x backend.Buffer, heads, T, pos int) {
	style := 0
	if c.cfg.RopeStyle == model.RopeNeoX {
		style = 1
	}
	c.run(backend.OpRope, gguf.TypeF32, c.act, backend.Grid{X: T * heads}, backend.Buf(x), backend.Buf(x),
		backend.Int(heads), backend.Int(c.cfg.HeadDim), backend.Int(c.cfg.RopeDim), c.pos(T),
		backend.Float(c.cfg.RopeBase), backend.Int(style))
}

// kvWrite copies k and v [T, kv·hd] into rows pos… of layer l's cache.
func (c *Context) kvWrite(l int, k, v backend.Buffer, T, pos int) {
	kvd := c.cfg.KVHeads * c.cfg.HeadDim
	c.run(backend.OpCopy, gguf.TypeF32, c.kv, backend.Grid{X: T}, backend.Buf(c.kc[l]), backend.Buf(k), backend.Int(kvd), c.pos(T))
	c.run(backend.OpCopy, gguf.TypeF32, c.kv, backend.Grid{X: T}, backend.Buf(c.vc[l]), backend.Buf(v), backend.Int(kvd), c.pos(T))
}

// attention: out[t,h] = softmax(q[t,h]·K[0..pos+t]ᵀ/√hd)·V over layer l's cache.
func (c *Context) attention(out, q backend.Buffer, l, T, pos int) {
	cfg := &c.cfg
	scale := 1 / float32(math.Sqrt(float64(cfg.HeadDim))) // 1.0f/sqrtf(hd), as llama.cpp
	c.run(backend.OpAttention, gguf.TypeF32, c.act, backend.Grid{X: T * cfg.Heads},
		backend.Buf(out), backend.Buf(q), backend.Buf(c.kc[l]), backend.Buf(c.vc[l]),
		backend.Int(cfg.Heads), backend.Int(cfg.KVHeads), backend.Int(cfg.HeadDim), c.pos(T), backend.Float(scale))
}

// add: out = a + b over rows of n.
func (c *Context) add(out, a, b backend.Buffer, rows, n int) {
	c.run(backend.OpAdd, gguf.TypeF32, c.act, backend.Grid{X: rows}, backend.Buf(out), backend.Buf(a), backend.Buf(b), backend.Int(n))
}

// swiglu: out = silu(gate)·up over rows of n.
func (c *Context) swiglu(out, gate, up backend.Buffer, rows, n int) {
	c.run(backend.OpSwiGLU, gguf.TypeF32, c.act, backend.Grid{X: rows}, backend.Buf(out), backend.Buf(gate), backend.Buf(up), backend.Int(n))
}

// emit hands checkpoint kind of layer (-1: global) in b, [T, cols] stored as
// c.act, to the hook, then writes the hook's values back.
func (c *Context) emit(kind string, layer int, b backend.Buffer, T, pos, cols int) {
	c.emitAs(kind, layer, b, T, pos, cols, c.act)
}

func (c *Context) emitAs(kind string, layer int, b backend.Buffer, T, pos, cols int, dt backend.DType) {
	if c.hook == nil || c.err != nil {
		return
	}
	// Finish the work recorded so far, then read the checkpoint as stored.
	if err := c.enc.Commit(); err != nil {
		c.err = err
		return
	}
	c.enc = c.be.Begin()
	if err := c.be.Sync(); err != nil {
		c.err = err
		return
	}
	n := T * cols
	raw := make([]byte, n*dt.Size())
	if err := c.be.Download(raw, b, 0); err != nil {
		c.err = err
		return
	}
	data := make([]float32, n)
	for i := range data {
		if dt == backend.F16 {
			data[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	t := &model.Tensor{Name: model.CheckpointName(kind, layer), Layer: layer, Pos: pos, Rows: T, Cols: cols, Data: data}
	c.hook(t)
	if len(t.Data) == n {
		data = t.Data // a hook may also replace the slice
	}
	// Write back: unchanged values round-trip exactly; modified ones are
	// rounded to the storage dtype, as the path would store them.
	for i, v := range data {
		if dt == backend.F16 {
			binary.LittleEndian.PutUint16(raw[2*i:], gguf.F32ToF16(v))
		} else {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	}
	if err := c.be.Upload(b, 0, raw); err != nil {
		c.err = err
	}
}
