// repro.h: the runners' common part (C++17, no GPU code): reading the
// repro's files, the perturbation, the step table's metrics computed as
// parity.Compare computes them, and the report. Written by paritycheck
// repro; see README.md beside it.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace rp {

// fail prints a message and exits 2 (the repro could not run).
[[noreturn]] inline void fail(const char* what, const char* detail) {
    std::fprintf(stderr, "repro: %s: %s\n", what, detail);
    std::exit(2);
}

// load reads a whole file of n bytes.
inline std::vector<unsigned char> load(const char* path, size_t n) {
    FILE* f = std::fopen(path, "rb");
    if (!f) fail("cannot open", path);
    std::vector<unsigned char> b(n);
    size_t got = n ? std::fread(b.data(), 1, n, f) : 0;
    int extra = std::fgetc(f);
    std::fclose(f);
    if (got != n || extra != EOF) fail("wrong size (run the runner from the repro folder)", path);
    return b;
}

inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline uint64_t f64_bits(double f) { uint64_t u; std::memcpy(&u, &f, 8); return u; }

// f16_to_f32 and f32_to_f16 are gguf's conversions (round to nearest even).
inline float f16_to_f32(uint16_t h) {
    uint32_t s = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 31, m = h & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return bits_f32(s | 0x7f800000u | (m << 13));
    return bits_f32(s | ((e + 112) << 23) | (m << 13));
}
inline uint16_t f32_to_f16(float f) {
    uint32_t bits = f32_bits(f);
    uint16_t sign = uint16_t(bits >> 16) & 0x8000;
    int exp = int(bits >> 23) & 0xff;
    uint32_t mant = bits & 0x7fffff;
    if (exp == 0xff) return mant ? uint16_t(sign | 0x7e00 | (mant >> 13)) : uint16_t(sign | 0x7c00);
    int e = exp - 127 + 15;
    if (e >= 0x1f) return uint16_t(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return sign;
        uint32_t m = mant | 0x800000, shift = uint32_t(14 - e);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return uint16_t(sign | h);
    }
    uint32_t h = (uint32_t(e) << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return uint16_t(sign | h);
}

// values reads count storage elements (elem 0 f32, 1 f16) as floats.
inline void values(const unsigned char* p, int elem, long count, std::vector<float>& out) {
    for (long i = 0; i < count; i++) {
        if (elem == 1) {
            uint16_t h; std::memcpy(&h, p + 2 * i, 2);
            out.push_back(f16_to_f32(h));
        } else {
            float f; std::memcpy(&f, p + 4 * i, 4);
            out.push_back(f);
        }
    }
}

// SplitMix is parity's perturbation stream (SplitMix64): one value per
// element, u = 2·(z>>11)·2⁻⁵³ − 1.
struct SplitMix {
    uint64_t s;
    double uniform() {
        s += 0x9e3779b97f4a7c15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        return double(z >> 11) * 0x1p-52 - 1;
    }
};

// ordered maps v rounded to the dtype (0 f32, 1 f16) to an integer whose
// differences count the values between two numbers.
inline int64_t ordered(double v, int dtype) {
    int64_t bits, sign;
    if (dtype == 1) {
        uint16_t b = f32_to_f16(float(v));
        bits = b & 0x7fff, sign = b >> 15;
    } else {
        uint32_t b = f32_bits(float(v));
        bits = b & 0x7fffffff, sign = b >> 31;
    }
    return sign ? -bits : bits;
}

// Metrics are parity.Metrics.
struct Metrics {
    long n = 0, max_abs_index = -1, nan = 0, inf = 0, non_finite = 0;
    double max_abs = 0, mean_abs = 0, rmse = 0, max_rel = 0, nmse = 0, cos = 0, rms_ref = 0;
    int64_t max_ulp = 0;
};

// compare is parity.Compare(a, b, dtype), operation for operation.
inline Metrics compare(const std::vector<double>& a, const std::vector<double>& b, int dtype) {
    Metrics m;
    m.n = long(a.size());
    double sumAbs = 0, sumErr2 = 0, sumB2 = 0, sumA2 = 0, sumAB = 0, maxAbs = 0, maxRel = 0;
    int64_t maxULP = 0;
    long n = 0;
    for (size_t i = 0; i < a.size(); i++) {
        double av = a[i], bv = b[i];
        if (std::isnan(av)) m.nan++;
        else if (std::isinf(av)) m.inf++;
        bool aFin = std::isfinite(av), bFin = std::isfinite(bv);
        if (!aFin && bFin) m.non_finite++;
        if (!aFin || !bFin) continue;
        n++;
        double e = std::fabs(av - bv);
        sumAbs += e;
        sumErr2 += e * e;
        sumB2 += bv * bv;
        sumA2 += av * av;
        sumAB += av * bv;
        if (e > maxAbs || m.max_abs_index < 0) maxAbs = e, m.max_abs_index = long(i);
        double r = e / (std::fabs(bv) + 1e-30);
        if (r > maxRel) maxRel = r;
        int64_t u = ordered(av, dtype) - ordered(bv, dtype);
        if (u < 0) u = -u;
        if (u > maxULP) maxULP = u;
    }
    m.max_abs = maxAbs, m.max_rel = maxRel, m.max_ulp = maxULP;
    if (n == 0) {
        m.mean_abs = m.rmse = m.nmse = m.cos = m.rms_ref = NAN;
        return m;
    }
    m.mean_abs = sumAbs / double(n);
    m.rmse = std::sqrt(sumErr2 / double(n));
    m.rms_ref = std::sqrt(sumB2 / double(n));
    if (sumB2 > 0) m.nmse = sumErr2 / sumB2;
    else if (sumErr2 == 0) m.nmse = 0;
    else m.nmse = INFINITY;
    if (sumA2 > 0 && sumB2 > 0) m.cos = sumAB / std::sqrt(sumA2 * sumB2);
    else if (sumA2 == 0 && sumB2 == 0) m.cos = 1;
    else m.cos = 0;
    return m;
}

// g3 formats like Go's strconv.FormatFloat(x, 'g', 3, 64).
inline std::string g3(double x) {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", x);
    return buf;
}

inline std::string f9(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9f", x);
    return buf;
}

// Table is the step table's row the runner must reproduce.
struct Table {
    const char* path;
    Metrics m;
    double bound;
    const char* verdict;
};

inline std::string line(const char* who, const Metrics& m) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-22s max_abs %-9s mean_abs %-9s nmse %-9s cos %s max_ulp %lld rmse %s max_rel %s",
                  who, g3(m.max_abs).c_str(), g3(m.mean_abs).c_str(), g3(m.nmse).c_str(), f9(m.cos).c_str(),
                  (long long)m.max_ulp, g3(m.rmse).c_str(), g3(m.max_rel).c_str());
    return buf;
}

// same reports whether two metrics are bit for bit the same figures.
inline bool same(const Metrics& a, const Metrics& b) {
    return a.n == b.n && a.non_finite == b.non_finite && a.max_ulp == b.max_ulp && a.max_abs_index == b.max_abs_index &&
           f64_bits(a.max_abs) == f64_bits(b.max_abs) && f64_bits(a.mean_abs) == f64_bits(b.mean_abs) &&
           f64_bits(a.nmse) == f64_bits(b.nmse) && f64_bits(a.cos) == f64_bits(b.cos) &&
           f64_bits(a.rmse) == f64_bits(b.rmse) && f64_bits(a.max_rel) == f64_bits(b.max_rel);
}

// Perturb is one --perturb of the checkpoint: v·(1 + rel·u) in float64,
// rounded to float32, one u per element over every call in order.
struct Perturb {
    double rel;
    uint64_t seed;
};

// finish applies the perturbations to the runner's output, reads the
// expected outputs and prints the report; it returns the exit status: 0
// when the runner's figures are the step table's, 1 when they differ.
inline int finish(const char* runner, std::vector<float> out, const Table& t, int cmp_dtype, const Perturb* ps, int nps,
                  const char* checkpoint, long cols) {
    std::vector<float> raw = out;
    for (int k = 0; k < nps; k++) {
        SplitMix r{ps[k].seed};
        for (auto& v : out) v = float(double(v) * (1 + ps[k].rel * r.uniform()));
    }
    size_t n = out.size();
    std::vector<unsigned char> e = load("expected.f64.bin", 8 * n), c = load("expected.cpu.f32.bin", 4 * n),
                               rec = load("recorded.f32.bin", 4 * n);
    std::vector<double> got(n), want(n), cpu(n), raw64(n);
    long differ = 0;
    int64_t ulp = 0;
    for (size_t i = 0; i < n; i++) {
        std::memcpy(&want[i], &e[8 * i], 8);
        float cf, rf;
        std::memcpy(&cf, &c[4 * i], 4);
        std::memcpy(&rf, &rec[4 * i], 4);
        got[i] = out[i], cpu[i] = cf, raw64[i] = raw[i];
        if (f32_bits(out[i]) != f32_bits(rf)) {
            differ++;
            int64_t u = ordered(out[i], 0) - ordered(rf, 0);
            if (u < 0) u = -u;
            if (u > ulp) ulp = u;
        }
    }
    Metrics m = compare(got, want, cmp_dtype);
    Metrics vc = compare(raw64, cpu, 0);
    std::printf("%s: %s, %zu values (%ld per position)%s\n", runner, checkpoint, n, cols, nps ? ", perturbed as the run was" : "");
    std::printf("  vs the float64 oracle (the step table's local row, %s):\n", t.path);
    std::printf("  %s  %s\n", line("step table", t.m).c_str(), t.verdict);
    std::printf("  %s  %s\n", line("this run", m).c_str(), m.non_finite == 0 && m.nmse <= t.bound ? "pass" : "FAIL");
    bool ok = same(m, t.m);
    std::printf("  figures: %s\n", ok ? "identical to the step table's" : "differ from the step table's");
    if (differ == 0) std::printf("  output: bit-identical to the values %s produced\n", t.path);
    else std::printf("  output: %ld of %zu values differ from those %s produced (max_ulp %lld)\n", differ, n, t.path, (long long)ulp);
    std::printf("  %s\n", line("vs cpu backend", vc).c_str());
    std::printf("figures nmse=%a max_abs=%a mean_abs=%a cos=%a max_ulp=%lld identical=%d bitexact=%d\n", m.nmse, m.max_abs,
                m.mean_abs, m.cos, (long long)m.max_ulp, ok ? 1 : 0, differ == 0 ? 1 : 0);
    return ok ? 0 : 1;
}

}  // namespace rp
