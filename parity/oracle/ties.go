package oracle

import (
	"fmt"
	"math"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity/oracle/vecdot"
)

// Activation quantization ties. Under RoundActivations a mul_mat rounds
// its input rows (package vecdot). When that input was recomputed here
// (the path fused it away and did not capture it) the oracle's float64
// value, rounded to float32, and the path's own float32 value differ by a
// few ulps; an element whose pre-rounding value lies within vecdot.TieRel
// of a rounding boundary may then round to one neighbour in the path and
// to the other here — a legitimate difference of one rounding step that
// nothing the oracle computes can decide. Such a mul_mat's Result lists
// each of them as a Tie: the exact change of one output row were that one
// element rounded the other way. A captured input is exactly what the path
// rounded: it has no ties.

// MaxTiesPerPos caps the ties a Result keeps per position: a position
// with more keeps none (Result.TiesCapped counts them), so the judge
// resolves nothing there.
const MaxTiesPerPos = 256

// Tie is one undecidable rounding of an element of a recomputed mul_mat
// input, as it affects one row of a Result.
type Tie struct {
	// Pos is the row (position) it changes.
	Pos int
	// Key names the rounding decision: the recomputed input, the rounding
	// class and the element ("blk.23.attn_norm q8_0 [70]"), or the block
	// of a Q8_0 scale tie ("blk.23.attn_norm q8_0 scale [64]"). Ties of two
	// inputs with one key are one decision (ffn_gate and ffn_up round the
	// same ffn_norm row).
	Key string
	dir func() ([]float64, error)
	// norm2, when known without computing the direction, returns Σ Dir².
	norm2 func() (float64, error)
}

// Dir returns the change of row Pos of the Result (Cols values) if the
// element rounds the other way: Delta·W[:, j] for the mul_mat itself (its
// bias is unaffected; for a scale tie Σ Scale[i]·W[:, b+i]), carried exactly through the ops after it. It is
// computed on each call (a vocabulary-long row is not kept).
func (t Tie) Dir() ([]float64, error) { return t.dir() }

// Norm2 returns Σ Dir² (up to rounding) when it is known without computing
// Dir — for a mul_mat's own ties Delta² times the squared norm of the
// weight's column, and through a rope, which preserves it — and false
// otherwise. A judge uses it to skip a tie that cannot lower an error
// (one whose direction is longer than twice the error) cheaply.
func (t Tie) Norm2() (float64, bool, error) {
	if t.norm2 == nil {
		return 0, false, nil
	}
	n, err := t.norm2()
	return n, err == nil, err
}

// ties lists the ties of a result of node computed from in (named names),
// r being the result so far (its Data set): new ones for a mul_mat of a
// recomputed input under RoundActivations; those of the inputs carried
// through a bias or residual add, rope and swiglu; none after any other
// op (no tolerance is carried through a norm, attention or a mul_mat).
func (e *Evaluator) ties(node model.Node, l int, in []*Result, names []string, r *Result) error {
	switch node.Op {
	case model.OpMulMat:
		return e.mulMatTies(node, l, in[0], names[0], r)
	case model.OpAdd:
		var all [][]Tie
		for _, x := range in {
			all = append(all, x.Ties)
			r.TiesCapped = max(r.TiesCapped, x.TiesCapped)
		}
		r.Ties = mergeTies(all, true, func(_ int, dirs [][]float64) []float64 {
			out := make([]float64, r.Cols)
			for _, d := range dirs {
				for i, v := range d {
					out[i] += v
				}
			}
			return out
		})
	case model.OpRope:
		c := e.c
		r.TiesCapped = in[0].TiesCapped
		for _, t := range in[0].Ties {
			src, pos := t.dir, t.Pos
			r.Ties = append(r.Ties, Tie{Pos: pos, Key: t.Key, norm2: t.norm2, dir: func() ([]float64, error) {
				d, err := src()
				if err != nil {
					return nil, err
				}
				y := append([]float64(nil), d...)
				ropeRow(d, y, pos, c.HeadDim, c.RopeDim, float64(c.RopeBase), c.RopeStyle)
				return y, nil
			}})
		}
	case model.OpSwiGLU:
		gate, up, cols := in[0].Data, in[1].Data, r.Cols
		r.TiesCapped = max(in[0].TiesCapped, in[1].TiesCapped)
		r.Ties = mergeTies([][]Tie{in[0].Ties, in[1].Ties}, false, func(pos int, dirs [][]float64) []float64 {
			g, u := gate[pos*cols:(pos+1)*cols], up[pos*cols:(pos+1)*cols]
			g2, u2 := append([]float64(nil), g...), append([]float64(nil), u...)
			for i, v := range dirs[0] {
				g2[i] += v
			}
			for i, v := range dirs[1] {
				u2[i] += v
			}
			a, b := swiglu(g2, u2), swiglu(g, u)
			for i := range a {
				a[i] -= b[i]
			}
			return a
		})
	}
	return nil
}

// mulMatTies lists the ties of mul_mat node (weights at layer l) of the
// input x named name. The global oracle (no captures) lists none: it is
// never judged against a path's values.
func (e *Evaluator) mulMatTies(node model.Node, l int, x *Result, name string, r *Result) error {
	if !e.o.RoundActivations || e.o.Captured == nil || x.captured || len(node.Weights) == 0 {
		return nil
	}
	w := e.o.Weights.Lookup(l, node.Weights[0])
	if w == nil || w.Type == gguf.TypeF32 || w.K <= 0 {
		return nil
	}
	class := vecdot.ClassOf(w.Type)
	row := make([]float64, w.K)
	for pos := 0; (pos+1)*w.K <= len(x.Data); pos++ {
		copy(row, x.Data[pos*w.K:(pos+1)*w.K])
		vt := vecdot.RoundTies(w.Type, row)
		if len(vt) > MaxTiesPerPos {
			r.TiesCapped++
			continue
		}
		for _, t := range vt {
			if t.Scale != nil {
				b, sc := t.Index, t.Scale
				r.Ties = append(r.Ties, Tie{Pos: pos, Key: fmt.Sprintf("%s %s scale [%d]", name, class, b), dir: func() ([]float64, error) {
					d, col := make([]float64, w.N), make([]float64, w.N)
					for i, s := range sc {
						if s == 0 {
							continue
						}
						if err := e.o.Cache.column(w, b+i, col); err != nil {
							return nil, err
						}
						for n, v := range col {
							d[n] += s * v
						}
					}
					return d, nil
				}})
				continue
			}
			j, delta := t.Index, t.Delta
			norm2 := func() (float64, error) {
				n, err := e.o.Cache.columnNorms(w)
				if err != nil {
					return 0, err
				}
				return delta * delta * n[j], nil
			}
			r.Ties = append(r.Ties, Tie{Pos: pos, Key: fmt.Sprintf("%s %s [%d]", name, class, j), norm2: norm2, dir: func() ([]float64, error) {
				d := make([]float64, w.N)
				if err := e.o.Cache.column(w, j, d); err != nil {
					return nil, err
				}
				for i := range d {
					d[i] *= delta
				}
				return d, nil
			}})
		}
	}
	return nil
}

// mergeTies merges the ties of several inputs of an elementwise op: one
// tie per (position, key), in the order of first appearance, whose
// direction is combine(pos, the inputs' directions), an input without
// that key contributing nil. With sum (combine adds the directions) a tie
// of one input keeps its Norm2.
func mergeTies(in [][]Tie, sum bool, combine func(pos int, dirs [][]float64) []float64) []Tie {
	type id struct {
		pos int
		key string
	}
	var order []id
	by := map[id][]func() ([]float64, error){}
	norms, count := map[id]func() (float64, error){}, map[id]int{}
	for k, ts := range in {
		for _, t := range ts {
			i := id{t.Pos, t.Key}
			if _, ok := by[i]; !ok {
				order = append(order, i)
				by[i] = make([]func() ([]float64, error), len(in))
			}
			by[i][k] = t.dir
			norms[i] = t.norm2
			count[i]++
		}
	}
	out := make([]Tie, 0, len(order))
	for _, i := range order {
		srcs, pos := by[i], i.pos
		var norm2 func() (float64, error)
		if sum && count[i] == 1 {
			norm2 = norms[i]
		}
		out = append(out, Tie{Pos: pos, Key: i.key, norm2: norm2, dir: func() ([]float64, error) {
			dirs := make([][]float64, len(srcs))
			for k, f := range srcs {
				if f == nil {
					continue
				}
				d, err := f()
				if err != nil {
					return nil, err
				}
				dirs[k] = d
			}
			return combine(pos, dirs), nil
		}})
	}
	return out
}

// column writes column j of w (N rows of K) into dst, dequantizing only
// the block of each row that holds it.
func (c *Cache) column(w *model.Weight, j int, dst []float64) error {
	if w.Data == nil {
		return fmt.Errorf("oracle: weight %q is absent", w.Name)
	}
	if j < 0 || j >= w.K || len(dst) != w.N {
		return fmt.Errorf("oracle: %s: column %d of %d rows of %d", w.Name, j, w.N, w.K)
	}
	if w.K*w.N <= cacheLimit {
		wf, err := c.full(w)
		if err != nil {
			return err
		}
		for n := range dst {
			dst[n] = wf[n*w.K+j]
		}
		return nil
	}
	rb, err := gguf.RowBytes(w.Type, w.K)
	if err != nil {
		return fmt.Errorf("oracle: %s: %w", w.Name, err)
	}
	bs, bb := w.Type.BlockSize(), w.Type.BlockBytes()
	off, in := (j/bs)*bb, j%bs
	if w.N*rb > len(w.Data) {
		return fmt.Errorf("oracle: %s: %d rows of %d %s need %d bytes, have %d", w.Name, w.N, w.K, w.Type, w.N*rb, len(w.Data))
	}
	f16 := f16Values()
	tmp := make([]float64, bs)
	for n := range dst {
		blk := w.Data[n*rb+off : n*rb+off+bb]
		switch w.Type {
		case gguf.TypeF16:
			dst[n] = f16[uint16(blk[0])|uint16(blk[1])<<8]
		case gguf.TypeQ8_0:
			dst[n] = float64(int8(blk[2+in])) * f16[uint16(blk[0])|uint16(blk[1])<<8]
		case gguf.TypeF32:
			dst[n] = float64(math.Float32frombits(uint32(blk[0]) | uint32(blk[1])<<8 | uint32(blk[2])<<16 | uint32(blk[3])<<24))
		default:
			if err := gguf.DequantizeF64(w.Type, blk, tmp); err != nil {
				return fmt.Errorf("oracle: %s: %w", w.Name, err)
			}
			dst[n] = tmp[in]
		}
	}
	return nil
}

// columnNorms returns, per column of w, the sum of its squared values
// (one pass over w in row chunks), kept in the cache.
func (c *Cache) columnNorms(w *model.Weight) ([]float64, error) {
	return c.cached(w, "column norms of ", true, func() ([]float64, error) {
		v := make([]float64, w.K)
		buf := make([]float64, min(chunkRows, w.N)*w.K)
		for r0 := 0; r0 < w.N; r0 += chunkRows {
			r1 := min(r0+chunkRows, w.N)
			if err := rows(w, r0, r1, buf); err != nil {
				return nil, err
			}
			for r := 0; r < r1-r0; r++ {
				for k, x := range buf[r*w.K : (r+1)*w.K] {
					v[k] += x * x
				}
			}
		}
		return v, nil
	})
}
