package repro

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func chmodX(dir, name string) error {
	if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
		return fmt.Errorf("repro: %w", err)
	}
	return nil
}

// readme is the folder's README.md: what it holds and how to run it.
func (f *folder) readme() string {
	m := f.man
	var b strings.Builder
	fmt.Fprintf(&b, "# Repro: %s of %s on %s\n\n", m.Checkpoint, m.Path, m.Backend)
	what := "checkpoint"
	if m.Stage != "" {
		what = fmt.Sprintf("stage checkpoint (stage %s of the kernel that produces %s, run unfused)", m.Stage, m.Of)
	}
	fmt.Fprintf(&b, "The dispatch that produces the %s `%s` (op %s) of the %s path on the %s backend, "+
		"numerics %s, activations %s, KV cache %s, model %s, written by `paritycheck repro`. "+
		"The run is step parity's: %d prompt tokens prefilled in one call, then %d greedy decode steps "+
		"(tokens %v); each forward call ran this dispatch once, and the folder holds all %d of them, so the "+
		"runners compute the figures of the step table's row over the same %d positions.\n\n",
		what, m.Checkpoint, m.Op, m.Path, m.Backend, m.Numerics, m.Act, m.KV, m.Model, m.PromptLen, len(m.Tokens)-m.PromptLen,
		m.Tokens, len(m.Calls), m.Output.Rows)
	if m.Provenance != "" {
		fmt.Fprintf(&b, "Backend: %s\n\n", m.Provenance)
	}
	t := m.Table
	fmt.Fprintf(&b, "The step table's row (%s vs its local float64 oracle): max_abs %.3g, mean_abs %.3g, nmse %.3g, "+
		"cos %.9f, max_ulp %d (%s), bound %.3g: **%s**.\n\n", t.A, float64(t.MaxAbs), float64(t.MeanAbs), float64(t.NMSE),
		float64(t.Cos), t.MaxULP, m.Compare, float64(t.Bound), t.Verdict)
	if len(m.Perturb) > 0 {
		fmt.Fprintf(&b, "The run perturbed this checkpoint (`--perturb`): each value v became v·(1 + rel·u), u from "+
			"SplitMix64 seeded as %+v, one value per element over every call in order. The runners apply the same "+
			"perturbation to their output, so they reproduce the perturbed figures.\n\n", m.Perturb)
	}
	b.WriteString("## Run it\n\n```sh\n./run.sh host    # any machine with clang: the CUDA and MSL sources executed on the host\n" +
		"./run.sh cuda    # an NVIDIA GPU with nvcc (scripts/repro-gpu.sh DIR does the same)\n" +
		"./run.sh metal   # macOS on Apple silicon\n" +
		"./run.sh cpu     # the cpu backend's own Go code: paritycheck repro --run (PARITYCHECK, MODEL=/abs/model.gguf)\n```\n\n" +
		"A path that ran on the cpu backend ran Go code (a composed kernel's CPU twin, a built-in op's Go implementation), " +
		"not these sources: `run.sh cpu` reproduces its figures exactly; the host runners show what the GPU sources compute on the same inputs.\n\n")
	b.WriteString("Each runner prints the step table's figures, its own (from its output, perturbed as the run was, " +
		"against `expected.f64.bin`), whether they are identical, whether its output is bit-identical to the values " +
		"the path produced (`recorded.f32.bin`), and its unperturbed output against the same kernel on the cpu backend " +
		"(`expected.cpu.f32.bin`). It exits 0 when the figures are identical, 1 when they differ, 2 when it cannot run. " +
		"A runner executing what the path executed gives identical figures: the CUDA runner on the GPU of a cuda run, " +
		"the host MSL runner for a run on the host-executed metal backend. Others differ by their rounding " +
		"(the cpu backend runs the dsl path's Go twin of these kernels, not their GPU sources).\n\n")
	if len(m.Unusable) > 0 {
		b.WriteString("Not written:\n\n")
		for r, why := range m.Unusable {
			fmt.Fprintf(&b, "- %s: %s\n", r, why)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Files\n\n| file | what |\n|---|---|\n" +
		"| `repro.json` | the manifest: kernels, calls (grid, threads, arguments, buffers, output region), compile options, the table's row |\n" +
		"| `kernels/*.cu`, `kernels/*.metal` | the kernel sources exactly as the backends compile them |\n" +
		"| `buffers/*.bin` | every call's buffers as they were just before the dispatch (weights, activations, KV cache, the vars buffer) |\n" +
		"| `expected.f64.bin` | the float64 oracle the table judged the checkpoint by (float64, little-endian, positions × cols) |\n" +
		"| `expected.cpu.f32.bin` | the same kernel on the cpu backend, same inputs, unperturbed (float32) |\n" +
		"| `recorded.f32.bin` | the values the path produced, as the table saw them (float32) |\n" +
		"| `repro.h`, `repro_data.h` | the runners' common code (the table's metrics as parity.Compare computes them) and the calls as data |\n" +
		"| `host/*.cpp`, `cuda/runner.cu`, `metal/runner.mm` | the runners |\n\n")
	b.WriteString("## Compile options\n\n")
	fmt.Fprintf(&b, "- CUDA: the cuda backend compiles with NVRTC `%s`; the CUDA runner uses nvcc `%s` (`NVCC_ARCH=sm_XY` "+
		"for another GPU).\n", strings.Join(m.Compile.NVRTC, " "), strings.Join(m.Compile.NVCC, " "))
	fmt.Fprintf(&b, "- Metal: %s; buffers in shared storage; argument i of a composed kernel at `[[buffer(i)]]` (scalars by "+
		"setBytes, 4 bytes); a built-in op's buffers at `[[buffer(0)]]…`, then one struct of its scalars and `al` "+
		"(each buffer's offset mod 16, 4 bits each) at the next index, threadgroup memory at `[[threadgroup(0)]]`.\n", m.Compile.Metal)
	fmt.Fprintf(&b, "- Host: clang `%s`.\n\n", strings.Join(m.Compile.Host, " "))
	b.WriteString("## Metal by hand (Xcode or a Swift tool)\n\n" +
		"1. Create a library from the `.metal` source: `device.makeLibrary(source:options:)` with `MTLCompileOptions` " +
		"`languageVersion = .version3_0` and `mathMode = .safe` (macOS 15) or `fastMathEnabled = false` before.\n" +
		"2. `makeFunction(name:)` with the kernel's entry (repro.json, kernels[].metal_entry), then a compute pipeline.\n" +
		"3. For each call: one shared buffer per `buffers` entry of the call, filled from its file; bind " +
		"`metal_binds` (a buffer at an offset, or `setBytes` of the bytes given) at their indices; threadgroup memory " +
		"`metal.shared` bytes at index 0 when not 0.\n" +
		"4. `dispatchThreadgroups(metal.grid, threadsPerThreadgroup: metal.threads)`, commit, wait.\n" +
		"5. Read `out.count` values of `out.elem` at `out.offset` in buffer `out.buffer`; concatenate the calls and " +
		"compare with `expected.f64.bin` (metal/runner.mm does all of this).\n")
	return b.String()
}
