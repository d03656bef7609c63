package cpu

import (
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Describe is the backend's provenance line for table headers and JSON
// objects: "cpu: 4 threads, amd64 avx2 fma avx512f …" — the worker count
// (results do not depend on it) and the CPU features golang.org/x/sys/cpu
// reads from the processor (the ggml-cpu profile's kernels are portable
// Go; the features say what the machine could use).
func (b *Backend) Describe() string {
	th := "threads"
	if b.Threads() == 1 {
		th = "thread"
	}
	return fmt.Sprintf("cpu: %d %s, %s %s", b.Threads(), th, runtime.GOARCH, strings.Join(Features(), " "))
}

// Features lists the SIMD features of this CPU that matter to numeric
// kernels, lower case, in a fixed order ("none" when there are none).
func Features() []string {
	var fs []string
	add := func(on bool, name string) {
		if on {
			fs = append(fs, name)
		}
	}
	x := cpu.X86
	add(x.HasSSE42, "sse4.2")
	add(x.HasAVX, "avx")
	add(x.HasAVX2, "avx2")
	add(x.HasFMA, "fma")
	add(x.HasF16C, "f16c")
	add(x.HasAVX512F, "avx512f")
	add(x.HasAVX512BW, "avx512bw")
	add(x.HasAVX512VL, "avx512vl")
	add(x.HasAVX512VNNI, "avx512vnni")
	add(x.HasAVX512BF16, "avx512bf16")
	a := cpu.ARM64
	add(a.HasASIMD, "asimd")
	add(a.HasFPHP, "fphp")
	add(a.HasASIMDHP, "asimdhp")
	add(a.HasASIMDDP, "asimddp")
	add(a.HasSVE, "sve")
	if len(fs) == 0 {
		fs = []string{"none"}
	}
	return fs
}
