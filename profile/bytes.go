package profile

import (
	"fmt"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/gguf"
)

// The bytes a dispatch moves are an estimate of its memory traffic: what
// it must read and write at least once, nothing for caches or re-reads.
//
// Built-in ops (backend/ops.go), from the op, its dtypes and the shape in
// its arguments:
//   - embed: T rows of the table (in the weight's encoding), the T ids and
//     the T output rows;
//   - rmsnorm, add_bias: the input and output rows and the weight vector;
//   - matmul, matmul_q: the whole weight (N rows of K in its encoding), the
//     T input rows of K and the T output rows of N;
//   - rope, copy, add, swiglu: every input and output element once;
//   - attention: the T query rows, the T output rows, and the pos+T cached
//     rows of K and of V (pos from Recorder.Mark).
//
// Composed (dsl) kernels carry no shape the recorder can read, so each
// distinct buffer argument counts once from its offset to its end: a
// weight (a buffer made by Wrap) exactly — except the token embedding in
// a kernel named embed…, the dsl's gather, which reads the call's T rows
// of it; an activation exactly when its
// buffer holds the call's rows only (Run prefills one token at a time, so
// a path's activation buffers hold one row); a KV cache as allocated (Run
// opens the path with a context of prompt + n positions, at most twice
// the rows a decode step reads on average). Activation bytes are small
// beside the weights at decode; the estimate is exact for the weights.

// bytes estimates what one dispatch moves.
func (r *Recorder) bytes(s backend.KernelSpec, g backend.Grid, args []backend.Arg) float64 {
	if s.CPU != nil || s.CUDA != "" || s.MSL != "" {
		return r.composedBytes(s.Name, args)
	}
	in, out := float64(s.In.Size()), float64(s.Out.Size())
	i := func(k int) float64 {
		if k < len(args) && args[k].Kind == backend.ArgInt {
			return float64(args[k].I)
		}
		return 0
	}
	row := func(w gguf.Type, n float64) float64 {
		if w == 0 {
			w = gguf.TypeF32
		}
		b, err := gguf.RowBytes(w, int(n))
		if err != nil {
			return 4 * n
		}
		return float64(b)
	}
	items := float64(g.Items())
	switch s.Name {
	case backend.OpEmbed: // out [T,d], W, ids [T], d
		d := i(3)
		return items*d*out + items*row(s.Weight, d) + 4*items
	case backend.OpRMSNorm: // out, x [rows,n], γ [n], n, eps
		n := i(3)
		return items*n*(in+out) + row(s.Weight, n)
	case backend.OpMatMul, backend.OpMatMulQ: // out [T,N], x [T,K], W [N,K], K, N, T
		k, n, t := i(3), i(4), i(5)
		return n*row(s.Weight, k) + t*k*in + t*n*out
	case backend.OpAddBias: // out, x [T,n], b [n], n
		n := i(3)
		return items*n*(in+out) + row(s.Weight, n)
	case backend.OpRope: // out, x [T, heads·hd], heads, hd, …; grid T·heads
		hd := i(3)
		return items * hd * (in + out)
	case backend.OpCopy: // dst (Out), src [rows,n] (In), n, pos
		n := i(2)
		return items * n * (in + float64(s.KV.Size()))
	case backend.OpAttention: // out, q [T,heads·hd], kc, vc [ctx,kv·hd], heads, kv, hd, pos, scale
		heads, kv, hd := i(4), i(5), i(6)
		t := items / max(heads, 1)
		cached := float64(r.pos) + t
		return t*heads*hd*(in+out) + 2*cached*kv*hd*float64(s.KV.Size())
	case backend.OpAdd, backend.OpSwiGLU: // out, a, b [rows,n], n
		n := i(3)
		return items * n * (2*in + out)
	}
	return r.composedBytes(s.Name, args)
}

// composedBytes counts each distinct buffer argument once, from its
// offset to its end (the embedding's T rows in an embed kernel).
func (r *Recorder) composedBytes(name string, args []backend.Arg) float64 {
	type at struct {
		b   backend.Buffer
		off int
	}
	seen := map[at]bool{}
	total := 0.0
	for _, a := range args {
		if a.Kind != backend.ArgBuffer || a.Buf == nil || seen[at{a.Buf, a.Off}] {
			continue
		}
		seen[at{a.Buf, a.Off}] = true
		n := float64(max(a.Buf.Size()-a.Off, 0))
		if rows, ok := r.gathered[a.Buf]; ok && rows > 0 && strings.HasPrefix(name, "embed") {
			n = float64(a.Buf.Size()) / float64(rows) * float64(max(r.t, 1))
		}
		total += n
	}
	return total
}

// opOf is the op of a kernel: the built-in op's name, or "composed".
func opOf(s backend.KernelSpec) string {
	if s.CPU != nil || s.CUDA != "" || s.MSL != "" {
		return "composed"
	}
	return s.Name
}

// label names a kernel as the profile aggregates it: a built-in op with
// its dtypes (and a matmul's N×K, so each projection shape is its own
// row), a composed kernel by name and grid width.
func label(s backend.KernelSpec, g backend.Grid, args []backend.Arg) string {
	if opOf(s) == "composed" {
		return fmt.Sprintf("%s [%d]", s.Name, g.X)
	}
	w := s.Weight
	if w == 0 {
		w = gguf.TypeF32
	}
	switch s.Name {
	case backend.OpMatMul, backend.OpMatMulQ:
		if len(args) >= 5 {
			return fmt.Sprintf("%s %v %d×%d %s→%s", s.Name, w, args[4].I, args[3].I, s.In, s.Out)
		}
	case backend.OpEmbed, backend.OpRMSNorm, backend.OpAddBias:
		return fmt.Sprintf("%s %v %s→%s", s.Name, w, s.In, s.Out)
	case backend.OpCopy:
		return fmt.Sprintf("%s %s→%s", s.Name, s.In, s.KV)
	case backend.OpAttention:
		return fmt.Sprintf("%s %s, KV %s", s.Name, s.In, s.KV)
	}
	return fmt.Sprintf("%s %s→%s", s.Name, s.In, s.Out)
}
