package backend

import "fmt"

// Numerics names the arithmetic a backend's built-in ops perform: the
// numerics profile. A result is only meaningful with the profile that
// produced it, so paths, tables, JSON objects and goldens record it.
type Numerics string

const (
	// Plain is the portable contract below: float32 arithmetic in an order
	// the backend chooses, library exp/sin/cos, activations never
	// quantized. Every backend (cpu, cuda, metal) implements it; backends
	// agree with the float64 oracle within each op's bound, not bit for
	// bit with each other.
	Plain Numerics = "plain"
	// GGMLCPU reproduces the arithmetic of ggml's CPU kernels bit for bit
	// (package backend/ggmlnum): activations rounded to the weight's
	// vec_dot type (OpMatMulQ), ggml's lane orders and fused multiply-adds,
	// its polynomial exp, glibc's sinf/cosf, float64 sums where ggml has
	// them. Only the cpu backend implements it.
	GGMLCPU Numerics = "ggml-cpu"
)

// Profiles lists the profiles in a fixed order.
func Profiles() []Numerics { return []Numerics{Plain, GGMLCPU} }

// ParseNumerics parses "plain" or "ggml-cpu".
func ParseNumerics(s string) (Numerics, error) {
	switch Numerics(s) {
	case Plain, GGMLCPU:
		return Numerics(s), nil
	}
	return "", fmt.Errorf("backend: unknown numerics profile %q (want plain or ggml-cpu)", s)
}

// DefaultNumerics is the profile a path runs on the named backend when
// none is asked for: GGMLCPU on "cpu" (and "", which means cpu), where it
// reproduces llama.cpp's CPU arithmetic, Plain on every other backend.
func DefaultNumerics(backendName string) Numerics {
	if backendName == "" || backendName == "cpu" {
		return GGMLCPU
	}
	return Plain
}

// SelectNumerics resolves the profile a path asks for on b: requested ""
// means DefaultNumerics(b.Name()). An unknown name, or a profile b does
// not list, is an error naming the profile and what b implements: a path
// never falls back to another profile.
func SelectNumerics(b Backend, requested string) (Numerics, error) {
	p := DefaultNumerics(b.Name())
	if requested != "" {
		var err error
		if p, err = ParseNumerics(requested); err != nil {
			return "", err
		}
	}
	for _, q := range b.Numerics() {
		if q == p {
			return p, nil
		}
	}
	return "", fmt.Errorf("backend: %s does not implement the %s numerics profile (it implements %v)", b.Name(), p, b.Numerics())
}

// The plain contract
//
// This is what every backend's built-in ops compute under Plain. It is
// written for GPUs: nothing in it needs float64 (Metal has none), a
// particular reduction order, or a particular instruction. u = 2⁻²⁴ is the
// unit roundoff of float32. Bounds are per output element against the
// float64 oracle evaluated on the same stored inputs (exact dequantized
// weights, exact widened activations); backendtest checks them with
// |got − ref| ≤ atol + rel·|ref| + acc·mag, mag = Σ|terms| of the element.
//
// General rules (all ops):
//   - Arithmetic and every partial sum are float32. No float64 anywhere in a
//     kernel, no compensated (Kahan) sums required, no integer dot products
//     (activations are never quantized).
//   - Summation order is the backend's choice (sequential, strided lanes,
//     warp/SIMD-group trees, split-K with a final float32 combine) but
//     fixed: the same kernel on the same inputs and launch shape gives the
//     same bits run to run (no float atomics in a reduction). The order
//     may depend on the launch shape, the token count among it: one
//     token's row computed alone and inside a batch (tiled GEMM against
//     row dots) may differ in the last bits.
//   - Fused multiply-adds are allowed anywhere (nvcc/NVRTC --fmad=true,
//     Metal's default contraction, Go's explicit math.FMA). A backend
//     records its compile options (fast math off, fmad on/off) in its
//     provenance.
//   - Transcendentals: expf, sinf, cosf, powf, sqrtf as the platform's
//     accurate library functions (CUDA's expf/sinf/cosf ≤ 2 ulp, powf ≤ 4
//     ulp, sqrtf correctly rounded; Metal's precise:: functions; Go's math
//     package evaluated in float64 and rounded once). Fast intrinsics
//     (__expf, __sinf, fast::, --use_fast_math) are not allowed: their
//     error grows with the argument.
//   - Storage: an f16 input is widened exactly; an f16 output is rounded
//     to nearest even once, at the store. Values inside an op are never
//     rounded to f16. Weights are dequantized with ggml's formulas
//     (d·q, d·q − m, d·sc·q − dmin·m, …) evaluated in float32, FMA allowed.
//
// Per op (the Op* constants document arguments and grids):
//   - OpEmbed, OpCopy: exact (a copy, converted to the output storage).
//   - OpAdd, OpAddBias: one float32 add: error ≤ u·|ref|.
//   - OpRMSNorm: ss = Σ x² in float32 (any order), mean = ss/n,
//     r = 1/sqrtf(mean + eps) (rsqrtf within 2 ulp allowed), out = (x·r)·γ.
//     Bound: acc = 0, error ≤ (n·u + 6u)·|ref| (the sum's error enters
//     through r only).
//   - OpMatMul: out = Σ_k w[n,k]·x[t,k] with the weight dequantized as
//     above; float32 accumulators in any fixed order. Bound: acc ≈ K·u
//     relative to mag = Σ_k |w·x| (backendtest uses 1e-6, which covers
//     K ≤ 8192 sequential and any tree order).
//   - OpMatMulQ: not part of Plain (activation rounding is GGMLCPU's);
//     a Plain backend's Load refuses it.
//   - OpRope: inv_i = powf(base, −2i/ropeDim) in float32, θ_i =
//     float32(pos)·inv_i rounded to float32, c = cosf(θ_i), s = sinf(θ_i);
//     out_j = x_j·c − x_k·s, out_k = x_j·s + x_k·c (FMA allowed), pairs
//     (2i, 2i+1) for style 0 (normal, llama) and (i, i+ropeDim/2) for
//     style 1 (NeoX, qwen); dims ≥ ropeDim are copied. The oracle uses
//     the exact angle pos·base^(−2i/ropeDim): the angle's own float32
//     error (≤ 6u·|θ|, from powf and the product) is part of the bound,
//     so its absolute error grows with the position: acc = 8u + 6u·|θ|max
//     against mag = |x_j| + |x_k|.
//   - OpAttention: s_j = scale·(q·k_j), the dot in float32 (any order);
//     m = max_j s_j over the causal range j ≤ pos0+t; p_j = expf(s_j − m);
//     l = Σ p_j; out = (Σ_j p_j·v_j)/l (or with p normalized first). An
//     online (flash-style) softmax that rescales partial sums by
//     expf(m_old − m_new) is allowed. Bound: acc = 4e-6 against
//     mag = Σ_j p_j·|v_j| / l.
//   - OpSwiGLU: silu(g)·u with silu(g) = g/(1 + expf(−g)) (or
//     g·(1/(1 + expf(−g)))). Bound: acc = 8u relative to |ref|.
//
// Agreement rule: under Plain, backends are compared with the float64
// oracle (backendtest per op; parity's local oracle per checkpoint, with
// the NMSE table of parity.Thresholds), never with each other bit for bit.
// Two backends running Plain may differ in the last bits of every op.
