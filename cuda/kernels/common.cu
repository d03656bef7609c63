// common.cu — helpers shared by metallic's hand-written CUDA kernels of the
// built-in ops (backend/ops.go) under the plain numerics contract
// (backend/numerics.go): float32 arithmetic, fused multiply-adds allowed,
// accurate library expf/sinf/cosf/powf/sqrtf (never the fast intrinsics:
// compile without --use_fast_math), f16 storage widened exactly and rounded
// to nearest even once at the store.
//
// Every reduction has a fixed order (a lane's sequential sum, then the
// xor-butterfly of the warp, then warps in index order), so a kernel over
// the same inputs and launch shape gives the same bits run to run. Every
// output element is written by exactly one block. No atomics.
//
// The tunable launch constants (MM_*, EW_*, RN_*, AT_*, RP_*) are emitted
// by cuda/builtin.go in front of this file; Shape() in Go reads the same
// values, so changing one there changes both.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define KFN __device__ __forceinline__

// f16f widens the f16 bits in the low 16 bits of h (exact).
KFN float f16f(u32 h) { return __half2float(__ushort_as_half((u16)(h & 0xffffu))); }

// bf16f widens the bf16 bits in the low 16 bits of h (exact).
KFN float bf16f(u32 h) { return __uint_as_float((h & 0xffffu) << 16); }

KFN float neg_inf() { return __int_as_float((int)0xff800000u); }

KFN float nan_f32() { return __int_as_float(0x7fc00000); }

// aligned reports whether p is a multiple of a bytes (a a power of two).
KFN bool aligned(const void* p, int a) { return ((u64)p & (u64)(a - 1)) == 0; }

// Little-endian loads from weight blocks: p is 2-byte aligned (weights are
// at even offsets). ld_u32_2 reads 4 bytes as two halves; ld_u32 is one
// 4-byte load where the address allows (the blocks of a row share their
// alignment, so the branch is uniform), else ld_u32_2.
KFN u32 ld_u16(const u8* p) { return *(const u16*)p; }
KFN u32 ld_u32_2(const u8* p) { return ld_u16(p) | (ld_u16(p + 2) << 16); }
KFN u32 ld_u32(const u8* p) { return aligned(p, 4) ? *(const u32*)p : ld_u32_2(p); }

// Activation storage: float or __half, widened to float to compute.
KFN float act_ld(const float* p, u64 i) { return p[i]; }
KFN float act_ld(const __half* p, u64 i) { return __half2float(p[i]); }
KFN void act_st(float* p, u64 i, float v) { p[i] = v; }
KFN void act_st(__half* p, u64 i, float v) { p[i] = __float2half_rn(v); }

// act_vec reports whether 4-element loads at multiples of 4 elements from p
// may be vectorized (16-byte float4, 8-byte uint2 of halves).
KFN bool act_vec(const float* p) { return aligned(p, 16); }
KFN bool act_vec(const __half* p) { return aligned(p, 8); }

// act_ld4 loads elements i..i+3 (i a multiple of 4) into v; vec is
// act_vec(p), uniform over the kernel.
KFN void act_ld4(const float* p, u64 i, bool vec, float* v) {
    if (vec) {
        const float4 q = *(const float4*)(p + i);
        v[0] = q.x;
        v[1] = q.y;
        v[2] = q.z;
        v[3] = q.w;
    } else {
        v[0] = p[i];
        v[1] = p[i + 1];
        v[2] = p[i + 2];
        v[3] = p[i + 3];
    }
}
KFN void act_ld4(const __half* p, u64 i, bool vec, float* v) {
    if (vec) {
        const uint2 q = *(const uint2*)(p + i);
        v[0] = f16f(q.x);
        v[1] = f16f(q.x >> 16);
        v[2] = f16f(q.y);
        v[3] = f16f(q.y >> 16);
    } else {
        v[0] = __half2float(p[i]);
        v[1] = __half2float(p[i + 1]);
        v[2] = __half2float(p[i + 2]);
        v[3] = __half2float(p[i + 3]);
    }
}

// warp_sum returns Σ v over the 32 lanes of the warp, the same bits in
// every lane (xor butterfly: a+b and b+a round alike). Every lane of the
// warp must call it.
KFN float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// warp_max returns max v over the 32 lanes of the warp, in every lane.
KFN float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// block_sum returns Σ v over the block in every thread: warp sums, then
// the warps' partials added in warp order. blockDim.x is a multiple of 32;
// every thread of the block must call it.
KFN float block_sum(float v) {
    __shared__ float part[32];
    v = warp_sum(v);
    __syncthreads(); // a previous block_sum may still be reading part
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = part[0];
    const int nw = blockDim.x >> 5;
    for (int w = 1; w < nw; w++) s += part[w];
    return s;
}
