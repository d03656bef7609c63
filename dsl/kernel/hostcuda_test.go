package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
)

// hostCUDA runs generated CUDA kernels on the host: every thread of a
// block is an OS thread, __syncthreads is a barrier, shared memory is
// static storage and a warp shuffle goes through shared slots between two
// barriers (generated code only shuffles in block-uniform control flow).
const hostCUDA = `#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>
struct dim3_ { unsigned int x, y, z; };
thread_local dim3_ threadIdx, blockIdx;
static std::barrier<>* g_bar;
#define __global__
#define __device__
#define __shared__ static
static void __syncthreads() { g_bar->arrive_and_wait(); }
static float g_slots[1024];
static float __shfl_xor_sync(unsigned int, float v, int lane) {
    g_slots[threadIdx.x] = v;
    __syncthreads();
    float r = g_slots[threadIdx.x ^ lane];
    __syncthreads();
    return r;
}
static float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
static unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
static float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
struct __half { unsigned short bits; };
static __half __ushort_as_half(unsigned short u) { return __half{u}; }
static float __half2float(__half h) {
    unsigned int s = (h.bits & 0x8000u) << 16, e = (h.bits >> 10) & 31, m = h.bits & 1023;
    if (e == 0) { float v = std::ldexp(float(m), -24); return s ? -v : v; }
    if (e == 31) return __uint_as_float(s | 0x7f800000u | (m << 13));
    return __uint_as_float(s | ((e + 112) << 23) | (m << 13));
}
static __half __float2half(float f) { // nearest even, normal and subnormal range
    unsigned int u = __float_as_uint(f), s = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (a >= 65520.0f) return __half{(unsigned short)(s | 0x7c00u)};
    if (a < 6.103515625e-05f) { // subnormal: multiples of 2^-24
        float q = std::nearbyint(a * 16777216.0f);
        return __half{(unsigned short)(s | (unsigned int)q)};
    }
    unsigned int e = ((u >> 23) & 255) - 112, m = u & 0x7fffffu;
    unsigned int h = (e << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return __half{(unsigned short)(s | h)};
}
template <class F> static void launch(int gx, int gy, int threads, F f) {
    std::barrier<> bar(threads);
    g_bar = &bar;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) {
        ts.emplace_back([&, t] {
            threadIdx = dim3_{(unsigned)t, 0, 0};
            for (int y = 0; y < gy; y++) for (int x = 0; x < gx; x++) {
                blockIdx = dim3_{(unsigned)x, (unsigned)y, 0};
                f();
                __syncthreads();
            }
        });
    }
    for (auto& t : ts) t.join();
}
static std::vector<unsigned char> load(const char* p) {
    FILE* f = std::fopen(p, "rb");
    std::vector<unsigned char> b;
    unsigned char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
    std::fclose(f);
    return b;
}
static void save(const char* p, const std::vector<unsigned char>& b) {
    FILE* f = std::fopen(p, "wb");
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
}
`

// hostLaunch is one kernel dispatch to run on the host.
type hostLaunch struct {
	k    *Kernel
	grid backend.Grid
	args []backend.Arg
}

// runHostCUDA runs the launches' CUDA sources on the host and returns, per
// launch, the bytes of every output buffer argument by index.
func runHostCUDA(t *testing.T, launches []hostLaunch) []map[int][]byte {
	t.Helper()
	clang, err := clangcheck.Clang()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	var src, body strings.Builder
	src.WriteString(hostCUDA)
	for i, l := range launches {
		code := strings.Replace(l.k.CUDA, "#include <cuda_fp16.h>\n", "", 1)
		code = strings.ReplaceAll(code, "extern \"C\" ", "")
		fmt.Fprintf(&src, "namespace k%d {\n%s}\n", i, code)
		var call []string
		for _, a := range l.k.Args {
			v := l.args[a.Index]
			switch a.Kind {
			case ArgBuffer:
				file := filepath.Join(dir, fmt.Sprintf("b%d_%d", i, a.Index))
				if err := os.WriteFile(file, v.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&body, "    auto b%d_%d = load(%q);\n", i, a.Index, file)
				q := "const "
				if a.Output {
					q = ""
				}
				call = append(call, fmt.Sprintf("(%s%s*)b%d_%d.data()", q, a.Elem.In(CUDA), i, a.Index))
			case ArgInt:
				call = append(call, strconv.Itoa(v.I))
			default:
				call = append(call, strconv.FormatFloat(float64(v.F), 'x', -1, 32)+"f")
			}
		}
		fmt.Fprintf(&body, "    launch(%d, %d, %d, [&] { k%d::%s(%s); });\n", max(l.grid.X, 1), max(l.grid.Y, 1),
			l.k.Preset.Threads, i, l.k.Entry, strings.Join(call, ", "))
		for _, a := range l.k.Args {
			if a.Kind == ArgBuffer && a.Output {
				fmt.Fprintf(&body, "    save(%q, b%d_%d);\n", filepath.Join(dir, fmt.Sprintf("o%d_%d", i, a.Index)), i, a.Index)
			}
		}
	}
	src.WriteString("int main() {\n" + body.String() + "    return 0;\n}\n")
	cpp, bin := filepath.Join(dir, "host.cpp"), filepath.Join(dir, "host")
	if err := os.WriteFile(cpp, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-x", "c++", "-std=c++20", "-O1", "-pthread", "-Wno-unknown-attributes", "-o", bin, cpp).CombinedOutput(); err != nil {
		t.Fatalf("compiling host CUDA: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin).CombinedOutput(); err != nil {
		t.Fatalf("running host CUDA: %v\n%s", err, out)
	}
	res := make([]map[int][]byte, len(launches))
	for i, l := range launches {
		res[i] = map[int][]byte{}
		for _, a := range l.k.Args {
			if a.Kind == ArgBuffer && a.Output {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("o%d_%d", i, a.Index)))
				if err != nil {
					t.Fatal(err)
				}
				res[i][a.Index] = b
			}
		}
	}
	return res
}
