package backend

// Built-in ops. Every backend implements them for F32 activations and, with
// KernelSpec.In/Out = F16, for f16 storage (values widened to float32 to
// compute, accumulation in float32, results rounded to f16 when stored),
// under each numerics profile it lists (KernelSpec.Numerics; the plain
// contract, op by op, is in numerics.go).
// Tensors are row-major; "W" is a weight of dtype KernelSpec.Weight stored
// as N rows of K elements (y = W·x). Arguments are listed in order; each op
// names its grid (one work item computes whole output rows or columns).
const (
	// OpEmbed gathers embedding rows: out[t,:] = W[ids[t],:].
	// Grid{X: T}. Args: out [T,d] (Out), W [vocab,d], ids int32 [T], Int(d).
	// ids must be in range (callers check).
	OpEmbed = "embed"

	// OpRMSNorm: out[r,:] = x[r,:] · 1/sqrt(mean(x[r,:]²)+eps) · γ.
	// Plain: squares summed in float32 (numerics.go). GGMLCPU: summed in
	// float64, scale = 1.0f/sqrtf(float(mean)+eps), as ggml.
	// Grid{X: rows}. Args: out [rows,n] (Out), x [rows,n] (In), γ W [n],
	// Int(n), Float(eps). out may equal x. Per-head RMSNorm (qwen3) is this
	// op over rows = T·heads, n = head_dim.
	OpRMSNorm = "rmsnorm"

	// OpMatMul: out[t,n] = Σ_k W[n,k]·x[t,k] (GEMV for T = 1, GEMM else),
	// x as stored (never rounded). Plain: float32 sums in the backend's
	// order. Under GGMLCPU the cpu backend computes it in its own float32
	// order too (only OpMatMulQ is ggml's).
	// Grid{X: N}: an item computes one output column for every t.
	// Args: out [T,N] (Out), x [T,K] (In), W [N,K], Int(K), Int(N), Int(T).
	// out must not overlap x.
	OpMatMul = "matmul"

	// OpMatMulQ (GGMLCPU only) is OpMatMul with x first rounded the way
	// llama.cpp's CPU backend prepares activations for the weight's dot
	// product (its vec_dot_type), so a path can match llama.cpp's
	// arithmetic: out[t,n] = Σ_k W[n,k]·x̂[t,k] with x̂ = dequant(quant(x))
	// per row:
	//   - F32 weights: x̂ = x;
	//   - F16 / BF16 weights: x rounded to f16 / bf16 (nearest even);
	//   - Q4_0, Q5_0, Q8_0, Q4_1, Q5_1 weights: Q8_0 blocks of 32 (the
	//     rule of ggml's x86 quantize_row_q8_0: d = f16(max|x|/127),
	//     q = nearest-even(x·(127/max|x|)));
	//   - k-quant weights: Q8_K blocks of 256 (m = the element of largest
	//     magnitude, s = −127/m, q = min(127, nearest-even(s·x)), d = 1/s).
	// For F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K weights the cpu backend
	// also sums as ggml's CPU kernels do (integer block dots, lanes and fused
	// multiply-adds of the kernel llama.cpp picks, repacked ones included:
	// package backend/ggmlnum), which makes it bit-identical to llama.cpp.
	// A backend without GGMLCPU refuses to load it.
	// Grid and arguments as OpMatMul.
	OpMatMulQ = "matmul_q"

	// OpAddBias: out[t,:] = x[t,:] + b. Grid{X: T}.
	// Args: out [T,n] (Out), x [T,n] (In), b W [n], Int(n). out may equal x.
	OpAddBias = "add_bias"

	// OpRope rotates pairs of the first ropeDim dims of every head of
	// position pos = pos0+t by θ_i = pos·base^(-2i/ropeDim), i < ropeDim/2:
	// (2i, 2i+1) for style 0 (normal, llama), (i, i+ropeDim/2) for style 1
	// (NeoX, qwen); out_j = x_j·cos θ − x_k·sin θ, out_k = x_j·sin θ +
	// x_k·cos θ; dims ≥ ropeDim are copied. Plain: θ_i = float32(pos)·
	// powf(base, −2i/ropeDim), library sinf/cosf (numerics.go). GGMLCPU:
	// llama.cpp's float32 recurrence θ_{i+1} = θ_i·base^(−2/ropeDim),
	// glibc's sinf and cosf, x0·cos − x1·sin with the first product fused,
	// as ggml is compiled (package backend/ggmlnum).
	// Grid{X: T·heads} (item = t·heads + h). Args: out (Out), x (In), both
	// [T, heads·hd]; Int(heads), Int(hd), Int(ropeDim), pos0 (a Pos
	// buffer argument), Float(base), Int(style). out may equal x.
	OpRope = "rope"

	// OpCopy copies rows, converting In to Out, to rows p… of dst:
	// dst[p+r,:] = src[r,:], p read from a Pos buffer argument. Grid{X:
	// rows}. Args: dst [p+rows,n] (Out), src [rows,n] (In), Int(n), p (Pos).
	// It writes the KV cache at the forward call's position.
	OpCopy = "copy"

	// OpAttention is causal grouped-query attention over the KV cache: for
	// query t (position pos0+t) and head h with kv head g = h/(heads/kvHeads),
	// s_j = scale·q[t,h]·k[j,g] for j ≤ pos0+t (float32), p = softmax(s)
	// with max subtraction, out[t,h] = Σ_j p_j·v[j,g]. Plain: float32 in the
	// backend's order, online softmax allowed (numerics.go). GGMLCPU: the
	// order of ggml's non-flash attention with ggml's vector exp (see
	// backend/cpu/attention.go; over an f16 cache, KernelSpec.KV F16, both
	// products are ggml's f16 matmuls: q and the probabilities are rounded
	// to f16 first), or with KernelSpec.Flash.On the arithmetic
	// of ggml's CPU flash attention (ggml_compute_forward_flash_attn_ext_f16
	// as llama.cpp runs it: ggmlnum.Flash), with the op's shape taken from
	// KernelSpec.Flash (see FlashAttn). The flash variant is defined under
	// GGMLCPU only: Plain has no flash kernel (model.CheckFlashAttn is
	// where paths refuse to ask for one).
	// Grid{X: T·heads} (item = t·heads + h). Args: out [T,heads·hd] (Out),
	// q [T,heads·hd] (In), kcache, vcache [ctx, kvHeads·hd] (KV), Int(heads),
	// Int(kvHeads), Int(hd), pos0 (Pos), Float(scale).
	OpAttention = "attention"

	// OpAdd: out = a + b elementwise. Grid{X: rows}. Args: out (Out), a, b
	// (In), all [rows,n]; Int(n). out may equal a or b.
	OpAdd = "add"

	// OpSwiGLU: out = silu(gate)·up, silu(x) = x/(1+e^-x). Plain: library
	// expf. GGMLCPU: ggml's vector exp and SiLU. Grid{X: rows}.
	// Args: out (Out), gate, up (In), all [rows,n]; Int(n). out may equal
	// gate or up.
	OpSwiGLU = "swiglu"
)

// FlashAttn selects and shapes OpAttention's flash variant (GGMLCPU). ggml
// picks among three flash kernels by the shape llama.cpp gives the op, and
// one of them depends on llama.cpp's thread count, so reproducing it needs
// what llama.cpp was run with:
//   - the op's queries are llama.cpp's ubatch: a forward call of T
//     positions is cut into ubatches of Batch (the last one shorter), and
//     a query's kernel is chosen by its ubatch's size;
//   - the op's KV length is the ubatch's last position + 1 rounded up to a
//     multiple of 256 (llama.cpp's padded n_kv; cells past a query's
//     position are masked);
//   - a single query over 512 cells or more is split into Threads chunks.
//
// Every value of a query is computed by one work item whatever the
// backend's own thread count: only Threads, llama.cpp's, matters.
type FlashAttn struct {
	// On selects the flash kernel.
	On bool
	// Batch is llama.cpp's n_ubatch (0: the whole forward call).
	Batch int
	// Threads is llama.cpp's n_threads (0: 1).
	Threads int
}

// FlashKVPad is the multiple llama.cpp rounds its KV length up to.
const FlashKVPad = 256

// Positions are not launch scalars: OpRope, OpAttention and OpCopy read
// the forward call's first position from device memory (a Pos argument: a
// buffer argument whose first 4 bytes at its offset are the int32
// position). A decode step then records the same dispatches with the same
// arguments at every position, which is what lets a GPU backend replay it
// as one captured graph (CUDA graphs) with only a 4-byte upload between
// tokens. Callers check that the position is in range.

// Ops lists the built-in op names (OpMatMulQ is GGMLCPU only).
func Ops() []string {
	return []string{OpEmbed, OpRMSNorm, OpMatMul, OpMatMulQ, OpAddBias, OpRope, OpCopy, OpAttention, OpAdd, OpSwiGLU}
}
