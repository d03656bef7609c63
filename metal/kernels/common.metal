// common.metal — helpers shared by metallic's hand-written Metal kernels of
// the built-in ops (backend/ops.go) under the plain numerics contract
// (backend/numerics.go): float32 arithmetic, fused multiply-adds allowed,
// accurate library functions (metal::precise::exp, sin, cos, pow, sqrt;
// the library is compiled with fast math off), f16 storage widened
// exactly and rounded to nearest even once at the store.
//
// Every reduction has a fixed order (a lane's sequential sum, then the
// xor butterfly of its SIMD group, then SIMD groups in index order), so a
// kernel over the same inputs and launch shape gives the same bits run to
// run. Every output element is written by exactly one threadgroup. No
// atomics. The kernels need SIMD groups of 32 threads (every Apple GPU;
// the backend checks the pipeline's threadExecutionWidth).
//
// Threadgroup memory is dynamic only (a [[threadgroup(0)]] argument sized
// by the backend from the launch shape): no function declares a
// threadgroup array of its own.
//
// The launch constants (MM_*, EW_*, AT_*) are #defines emitted by
// metal/builtin_shape.go in front of this file; the Go side's Shape reads
// the same values, so changing one there changes both.
//
// Alignment: a kernel never casts a pointer to an integer. The backend
// passes, in every argument struct, al: the address of each buffer
// argument modulo 16 as bound, four bits per buffer in binding order
// (amod). Vector loads are taken only where they are aligned.

// Grp is where a thread is: its threadgroup, its index in it and the
// threadgroup's size.
struct Grp {
    uint3 tg;  // threadgroup position in the grid
    uint tid;  // thread index in the threadgroup
    uint nt;   // threads per threadgroup (a multiple of 32)
};

// amod returns the address of buffer argument i modulo 16 (al as the
// backend packs it: four bits per buffer).
inline uint amod(uint al, uint i) { return (al >> (4u * i)) & 15u; }

// f16f widens the f16 bits in the low 16 bits of h (exact).
inline float f16f(uint h) { return float(as_type<half>(ushort(h & 0xffffu))); }

// bf16f widens the bf16 bits in the low 16 bits of h (exact).
inline float bf16f(uint h) { return as_type<float>((h & 0xffffu) << 16); }

// s8 is the signed value of the low byte of b (two's complement).
inline int s8(uint b) { return int(b & 255u) - int((b & 128u) << 1); }

inline float neg_inf() { return as_type<float>(0xff800000u); }

inline float nan_f32() { return as_type<float>(0x7fc00000u); }

// Little-endian loads from weight blocks, at 2-byte aligned addresses
// (weights are bound at even offsets, every block size is even). ld_u32_2
// reads 4 bytes as two halves; ld_u32 is one 4-byte load when a4 says
// the address is 4-byte aligned (the blocks of a row share their
// alignment, so the branch is uniform).
inline uint ld_u16(device const uchar* p) { return uint(*(device const ushort*)p); }
inline uint ld_u32_2(device const uchar* p) { return ld_u16(p) | (ld_u16(p + 2) << 16); }
inline uint ld_u32(device const uchar* p, bool a4) { return a4 ? *(device const uint*)p : ld_u32_2(p); }

// Activation storage: float or half, widened to float to compute; the
// store rounds to nearest even (MSL's float-to-half conversion).
inline float act_ld(device const float* p, ulong i) { return p[i]; }
inline float act_ld(device const half* p, ulong i) { return float(p[i]); }
inline void act_st(device float* p, ulong i, float v) { p[i] = v; }
inline void act_st(device half* p, ulong i, float v) { p[i] = half(v); }

// act_vec_ok reports whether 4-element loads at multiples of 4 elements
// of an activation whose address is m modulo 16 may be vectorized
// (16-byte float4, 8-byte uint2 of halves).
inline bool act_vec_ok(device const float*, uint m) { return m == 0u; }
inline bool act_vec_ok(device const half*, uint m) { return (m & 7u) == 0u; }

// act_ld4 loads elements i..i+3 (i a multiple of 4) into v; vec is
// act_vec_ok of the buffer, uniform over the kernel.
inline void act_ld4(device const float* p, ulong i, bool vec, thread float* v) {
    if (vec) {
        const float4 q = *(device const float4*)(p + i);
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
inline void act_ld4(device const half* p, ulong i, bool vec, thread float* v) {
    if (vec) {
        const uint2 q = *(device const uint2*)(p + i);
        v[0] = f16f(q.x);
        v[1] = f16f(q.x >> 16);
        v[2] = f16f(q.y);
        v[3] = f16f(q.y >> 16);
    } else {
        v[0] = float(p[i]);
        v[1] = float(p[i + 1]);
        v[2] = float(p[i + 2]);
        v[3] = float(p[i + 3]);
    }
}

// simd_sum32 returns Σ v over the 32 lanes of the SIMD group, the same
// bits in every lane (xor butterfly: a+b and b+a round alike). Every lane
// of the SIMD group must call it.
inline float simd_sum32(float v) {
    for (ushort o = 16; o > 0; o >>= 1) v += simd_shuffle_xor(v, o);
    return v;
}

// simd_max32 returns max v over the 32 lanes of the SIMD group, in every
// lane.
inline float simd_max32(float v) {
    for (ushort o = 16; o > 0; o >>= 1) v = fmax(v, simd_shuffle_xor(v, o));
    return v;
}

// group_sum returns Σ v over the threadgroup in every thread: SIMD sums,
// then the SIMD groups' partials added in index order. part is
// threadgroup memory of at least nt/32 floats; every thread of the
// threadgroup must call it.
inline float group_sum(float v, Grp g, threadgroup float* part) {
    v = simd_sum32(v);
    threadgroup_barrier(mem_flags::mem_threadgroup); // a previous group_sum may still read part
    if ((g.tid & 31u) == 0u) part[g.tid >> 5] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float s = part[0];
    const uint nw = g.nt >> 5;
    for (uint w = 1; w < nw; w++) s += part[w];
    return s;
}
