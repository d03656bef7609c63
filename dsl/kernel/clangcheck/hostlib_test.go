//go:build linux

package clangcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/metallic-go/metallic/internal/testenv"
)

// hostLibKernels exercise the runtime: warp shuffles (xor, indexed, down)
// with per-warp control flow, shared memory across warps, and the
// divergences and memory faults it must report instead of guessing.
const hostLibKernels = `
extern "C" __global__ void shuffles(int* out) {
    int t = threadIdx.x, o = 3 * (blockIdx.x * blockDim.x + t);
    out[o] = __shfl_xor_sync(0xffffffffu, t, 5);
    out[o + 1] = __shfl_sync(0xffffffffu, 10 * t + (int)blockIdx.x, 31 - (t & 31));
    out[o + 2] = __shfl_down_sync(0xffffffffu, t, 3);
}
// Warp w runs w+1 rounds of shuffles; warp 1 leaves first.
extern "C" __global__ void per_warp(float* out) {
    int w = threadIdx.x >> 5;
    if (w == 1) return;
    float v = (float)threadIdx.x;
    for (int i = 0; i <= w; i++) v += __shfl_xor_sync(0xffffffffu, v, 1 << i);
    out[threadIdx.x] = v;
}
extern "C" __global__ void block_sum(float* out) {
    __shared__ float part[32];
    float v = (float)threadIdx.x;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) s += part[w];
    out[threadIdx.x] = s;
}
extern "C" __global__ void odd_lanes_shuffle(float* out) {
    if (threadIdx.x & 1) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 2);
}
extern "C" __global__ void barrier_after_exit(float* out) {
    if (threadIdx.x == 0) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}
extern "C" __global__ void shuffle_vs_barrier(float* out) {
    if (threadIdx.x < 16) __syncthreads();
    else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
extern "C" __global__ void partial_mask(float* out) {
    out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, 1.0f, 1);
}
extern "C" __global__ void read_past(float* out, const float* in, int n) {
    out[threadIdx.x] = in[n + threadIdx.x];
}
extern "C" __global__ void misaligned(float* out, const unsigned char* in) {
    out[threadIdx.x] = (float)*(const unsigned int*)(in + 2);
}
extern "C" int L_misaligned(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { misaligned(P{a[0]}, P{a[1]}); }); }
extern "C" int L_shuffles(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { shuffles(P{a[0]}); }); }
extern "C" int L_per_warp(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { per_warp(P{a[0]}); }); }
extern "C" int L_block_sum(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { block_sum(P{a[0]}); }); }
extern "C" int L_odd_lanes_shuffle(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { odd_lanes_shuffle(P{a[0]}); }); }
extern "C" int L_barrier_after_exit(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { barrier_after_exit(P{a[0]}); }); }
extern "C" int L_shuffle_vs_barrier(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { shuffle_vs_barrier(P{a[0]}); }); }
extern "C" int L_partial_mask(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { partial_mask(P{a[0]}); }); }
extern "C" int L_read_past(int gx, int t, uint64_t* a) { return hrt::launch(gx, 1, 1, t, [a] { read_past(P{a[0]}, P{a[1]}, (int)a[2]); }); }
`

type hostLibAPI struct {
	alloc  func(n uint64) unsafe.Pointer
	free   func(p unsafe.Pointer)
	check  func(p unsafe.Pointer) int64
	errMsg func() string
	h      uintptr
}

// launch runs entry over gx blocks of threads with args (8-byte values).
func (l *hostLibAPI) launch(t *testing.T, entry string, gx, threads int, args ...uint64) error {
	t.Helper()
	sym, err := purego.Dlsym(l.h, "L_"+entry)
	if err != nil {
		t.Fatal(err)
	}
	var fn func(gx, threads int32, a unsafe.Pointer) int32
	purego.RegisterFunc(&fn, sym)
	a := l.alloc(uint64(8 * max(len(args), 1)))
	defer l.free(a)
	copy(unsafe.Slice((*uint64)(a), len(args)), args)
	if fn(int32(gx), int32(threads), a) != 0 {
		return &launchError{l.errMsg()}
	}
	return nil
}

type launchError struct{ msg string }

func (e *launchError) Error() string { return e.msg }

func buildHostLibTest(t *testing.T) *hostLibAPI {
	clang, err := Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	dir := t.TempDir()
	cpp, lib := filepath.Join(dir, "k.cpp"), filepath.Join(dir, "k.so")
	if err := os.WriteFile(cpp, []byte(HostCUDALib+hostLibKernels), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, HostLibFlags(lib, cpp)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	l := &hostLibAPI{h: h}
	for name, fp := range map[string]any{"hrt_alloc": &l.alloc, "hrt_free": &l.free, "hrt_check": &l.check, "hrt_error": &l.errMsg} {
		sym, err := purego.Dlsym(h, name)
		if err != nil {
			t.Fatal(err)
		}
		purego.RegisterFunc(fp, sym)
	}
	return l
}

func TestHostCUDALib(t *testing.T) {
	l := buildHostLibTest(t)
	buf := func(n int) (unsafe.Pointer, uint64) {
		p := l.alloc(uint64(n))
		t.Cleanup(func() { l.free(p) })
		return p, uint64(uintptr(p))
	}
	t.Run("shuffles", func(t *testing.T) {
		const blocks, threads = 2, 64
		p, a := buf(4 * 3 * blocks * threads)
		if err := l.launch(t, "shuffles", blocks, threads, a); err != nil {
			t.Fatal(err)
		}
		got := unsafe.Slice((*int32)(p), 3*blocks*threads)
		for b := range blocks {
			for tt := range threads {
				lane, base := tt&31, tt&^31
				down := tt
				if lane+3 < 32 {
					down = tt + 3
				}
				want := []int32{int32(base | lane ^ 5), int32(10*(base|(31-lane)) + b), int32(down)}
				o := 3 * (b*threads + tt)
				for i, w := range want {
					if got[o+i] != w {
						t.Fatalf("block %d thread %d value %d: got %d, want %d", b, tt, i, got[o+i], w)
					}
				}
			}
		}
	})
	t.Run("per-warp control flow", func(t *testing.T) {
		const threads = 96
		p, a := buf(4 * threads)
		if err := l.launch(t, "per_warp", 1, threads, a); err != nil {
			t.Fatal(err)
		}
		got := unsafe.Slice((*float32)(p), threads)
		for tt := range threads {
			w := tt / 32
			var want float32
			if w != 1 {
				// Round i adds the partner at distance 2^i: after rounds
				// 0…w a lane holds the sum of its aligned group of 2^(w+1).
				g := 1 << (w + 1)
				lo := tt &^ (g - 1)
				for j := lo; j < lo+g; j++ {
					want += float32(j)
				}
			}
			if got[tt] != want {
				t.Fatalf("thread %d: got %v, want %v", tt, got[tt], want)
			}
		}
	})
	t.Run("shared memory", func(t *testing.T) {
		const threads = 256
		p, a := buf(4 * threads)
		if err := l.launch(t, "block_sum", 1, threads, a); err != nil {
			t.Fatal(err)
		}
		for tt, v := range unsafe.Slice((*float32)(p), threads) {
			if v != threads*(threads-1)/2 {
				t.Fatalf("thread %d: got %v, want %v", tt, v, threads*(threads-1)/2)
			}
		}
	})
	for _, c := range []struct{ entry, want string }{
		{"odd_lanes_shuffle", "lane finished while its warp waits at a shuffle"},
		{"barrier_after_exit", "__syncthreads after some threads of the block finished"},
		{"shuffle_vs_barrier", "lane at __syncthreads while its warp waits at a shuffle"},
		{"partial_mask", "partial mask"},
	} {
		t.Run(c.entry, func(t *testing.T) {
			_, a := buf(4 * 64)
			err := l.launch(t, c.entry, 1, 64, a)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	t.Run("not whole warps", func(t *testing.T) {
		_, a := buf(4 * 48)
		if err := l.launch(t, "shuffles", 1, 48, a); err == nil || !strings.Contains(err.Error(), "not whole warps") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("read past the end", func(t *testing.T) {
		_, out := buf(4 * 32)
		_, in := buf(4 * 100)
		err := l.launch(t, "read_past", 1, 32, out, in, 90)
		if err == nil || !strings.Contains(err.Error(), "memory fault reading or writing byte 400 of a buffer of 400 bytes") {
			t.Fatalf("got %v", err)
		}
		// The runtime recovers: the next launch runs.
		if err := l.launch(t, "read_past", 1, 32, out, in, 60); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("misaligned load", func(t *testing.T) {
		_, out := buf(4 * 32)
		_, in := buf(64)
		if err := l.launch(t, "misaligned", 1, 32, out, in); err == nil || !strings.Contains(err.Error(), "misaligned load or store") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("red zone", func(t *testing.T) {
		p, _ := buf(10)
		if off := l.check(p); off != -1<<63 {
			t.Fatalf("fresh buffer: check = %d", off)
		}
		*(*byte)(unsafe.Add(p, 11)) = 1 // the slack after the buffer's end
		if off := l.check(p); off != 11 {
			t.Fatalf("check = %d, want 11", off)
		}
		*(*byte)(unsafe.Add(p, 11)) = 0xa5
	})
}
