package backend

// Built-in ops. Every backend implements them for F32 activations and, with
// KernelSpec.In/Out = F16, for f16 storage (values widened to float32 to
// compute, accumulation in float32, results rounded to f16 when stored).
// Tensors are row-major; "W" is a weight of dtype KernelSpec.Weight stored
// as N rows of K elements (y = W·x). Arguments are listed in order; each op
// names its grid (one work item computes whole output rows or columns).
const (
	// OpEmbed gathers embedding rows: out[t,:] = W[ids[t],:].
	// Grid{X: T}. Args: out [T,d] (Out), W [vocab,d], ids int32 [T], Int(d).
	// ids must be in range (callers check).
	OpEmbed = "embed"

	// OpRMSNorm: out[r,:] = x[r,:] · 1/sqrt(mean(x[r,:]²)+eps) · γ, as ggml:
	// squares summed in float64, scale = 1.0f/sqrtf(float(mean)+eps).
	// Grid{X: rows}. Args: out [rows,n] (Out), x [rows,n] (In), γ W [n],
	// Int(n), Float(eps). out may equal x. Per-head RMSNorm (qwen3) is this
	// op over rows = T·heads, n = head_dim.
	OpRMSNorm = "rmsnorm"

	// OpMatMul: out[t,n] = Σ_k W[n,k]·x[t,k] (GEMV for T = 1, GEMM else).
	// Grid{X: N}: an item computes one output column for every t.
	// Args: out [T,N] (Out), x [T,K] (In), W [N,K], Int(K), Int(N), Int(T).
	// out must not overlap x.
	OpMatMul = "matmul"

	// OpMatMulQ is OpMatMul with x first rounded the way llama.cpp's CPU
	// backend prepares activations for the weight's dot product (its
	// vec_dot_type), so a path can match llama.cpp's arithmetic:
	// out[t,n] = Σ_k W[n,k]·x̂[t,k] with x̂ = dequant(quant(x)) per row:
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
	// package ggmlnum), which makes it bit-identical to llama.cpp.
	// Grid and arguments as OpMatMul.
	OpMatMulQ = "matmul_q"

	// OpAddBias: out[t,:] = x[t,:] + b. Grid{X: T}.
	// Args: out [T,n] (Out), x [T,n] (In), b W [n], Int(n). out may equal x.
	OpAddBias = "add_bias"

	// OpRope rotates pairs of the first ropeDim dims of every head of
	// position pos = pos0+t by θ_i ≈ pos·base^(-2i/ropeDim), i < ropeDim/2,
	// computed as llama.cpp does (RopeAngles: a float32 recurrence), with
	// glibc's sinf and cosf (ggmlnum.Sincosf): (2i, 2i+1) for style 0
	// (normal, llama), (i, i+ropeDim/2) for style 1 (NeoX, qwen); x0·cos −
	// x1·sin with the first product fused, as ggml is compiled.
	// Grid{X: T·heads} (item = t·heads + h). Args: out (Out), x (In), both
	// [T, heads·hd]; Int(heads), Int(hd), Int(ropeDim), Int(pos0),
	// Float(base), Int(style). out may equal x.
	OpRope = "rope"

	// OpCopy copies rows, converting In to Out: dst[r,:] = src[r,:].
	// Grid{X: rows}. Args: dst [rows,n] (Out), src [rows,n] (In), Int(n).
	// It writes the KV cache (dst = BufAt(cache, pos·n·size)).
	OpCopy = "copy"

	// OpAttention is causal grouped-query attention over the KV cache: for
	// query t (position pos0+t) and head h with kv head g = h/(heads/kvHeads),
	// s_j = scale·q[t,h]·k[j,g] for j ≤ pos0+t (float32), p = softmax(s)
	// with max subtraction, out[t,h] = Σ_j p_j·v[j,g]. The cpu backend
	// computes it in the order of ggml's non-flash attention (see
	// backend/cpu/attention.go), with ggml's vector exp.
	// Grid{X: T·heads} (item = t·heads + h). Args: out [T,heads·hd] (Out),
	// q [T,heads·hd] (In), kcache, vcache [ctx, kvHeads·hd] (In), Int(heads),
	// Int(kvHeads), Int(hd), Int(pos0), Float(scale).
	OpAttention = "attention"

	// OpAdd: out = a + b elementwise. Grid{X: rows}. Args: out (Out), a, b
	// (In), all [rows,n]; Int(n). out may equal a or b.
	OpAdd = "add"

	// OpSwiGLU: out = silu(gate)·up, silu(x) = x/(1+e^-x), e^-x by ggml's
	// vector exp (ggmlnum.SwiGLU) on the cpu backend. Grid{X: rows}.
	// Args: out (Out), gate, up (In), all [rows,n]; Int(n). out may equal
	// gate or up.
	OpSwiGLU = "swiglu"
)

// Ops lists the built-in op names.
func Ops() []string {
	return []string{OpEmbed, OpRMSNorm, OpMatMul, OpMatMulQ, OpAddBias, OpRope, OpCopy, OpAttention, OpAdd, OpSwiGLU}
}
