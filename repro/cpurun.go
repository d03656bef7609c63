package repro

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/backend/cpu"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// RunnerCPU names the Go runner of RunCPU in its report.
const RunnerCPU = "cpu_runner (Go)"

// ReadManifest reads a repro folder's repro.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "repro.json"))
	if err != nil {
		return nil, fmt.Errorf("repro: %s is not a repro folder: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("repro: %s/repro.json: %w", dir, err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("repro: %s/repro.json: version %d, want 1", dir, m.Version)
	}
	return &m, nil
}

// RunCPU is the runner of a repro written from a path on the cpu backend:
// that backend runs Go code (a composed kernel's CPU twin, a built-in op's
// Go implementation), which the C++ host runners do not execute, so only
// Go reproduces its figures. RunCPU opens the path again over file (the
// model the folder was written from: its kernels are rebuilt from the
// model and the recorded options, and must have the names the folder
// lists), runs each recorded call on a fresh cpu backend from the folder's
// buffers, applies the run's perturbation and prints the report the C++
// runners print, ending in the same figures line. Figures.Identical says
// whether the figures are the step table's. For a path that ran on a GPU
// backend it is the cpu replay of the same kernels (expected.cpu.f32.bin),
// not a reproduction of the GPU's figures.
func RunCPU(dir, file string, w io.Writer) (*Figures, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	specs, err := loadSpecs(man, file)
	if err != nil {
		return nil, err
	}
	be := cpu.New(backend.Options{Threads: 1})
	defer be.Close()
	var out []float32
	for i, c := range man.Calls {
		v, err := runCall(be, dir, man, specs, c)
		if err != nil {
			return nil, fmt.Errorf("repro: call %d: %w", i, err)
		}
		out = append(out, v...)
	}
	return report(w, dir, man, out)
}

// loadSpecs opens the manifest's path over the model with a recorder
// around its cpu backend and runs the recorded tokens, collecting the
// spec of every kernel it loads under the name the folder gives it.
func loadSpecs(man *Manifest, file string) (map[string]backend.KernelSpec, error) {
	if base := filepath.Base(file); base != man.Model {
		return nil, fmt.Errorf("repro: the folder was written from model %s, not %s", man.Model, base)
	}
	m, err := model.Open(file)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var rec *recorder
	opts := model.PathOptions{Backend: "cpu", Threads: 1, ActDType: man.Act, KVDType: man.KV, FlashAttn: man.FlashAttn,
		Numerics: man.Numerics, Spec: man.Spec, Unfuse: man.Unfuse,
		WrapBackend: func(b backend.Backend) backend.Backend { rec = newRecorder(b); return rec }}
	path := strings.TrimSuffix(man.Path, model.UnfusedSuffix)
	p, err := model.OpenPath(path, m, opts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if rec == nil {
		return nil, fmt.Errorf("%w: path %s opened no backend", ErrUnsupported, path)
	}
	specs := map[string]backend.KernelSpec{}
	complete := func() bool {
		for _, s := range rec.loaded {
			specs[specName(s)] = s
		}
		for _, k := range man.Kernels {
			if _, ok := specs[k.Name]; !ok {
				return false
			}
		}
		return true
	}
	// The dsl path loads its kernels when it opens; the reference loads
	// each op as it first dispatches it: run the recorded tokens then.
	if complete() {
		return specs, nil
	}
	if man.PromptLen <= 0 || man.PromptLen > len(man.Tokens) {
		return nil, fmt.Errorf("repro: repro.json: prompt_len %d of %d tokens", man.PromptLen, len(man.Tokens))
	}
	if _, err := p.Forward(man.Tokens[:man.PromptLen], 0); err != nil {
		return nil, err
	}
	for i := man.PromptLen; i < len(man.Tokens) && !complete(); i++ {
		if _, err := p.Forward(man.Tokens[i:i+1], i); err != nil {
			return nil, err
		}
	}
	complete()
	return specs, nil
}

// specName is the name a folder gives a kernel (folder.kernelOf).
func specName(s backend.KernelSpec) string {
	if s.CUDA != "" || s.MSL != "" || s.CPU != nil {
		return s.Name
	}
	return builtinLabel(s)
}

// runCall runs one recorded call on be and returns its output rows.
func runCall(be backend.Backend, dir string, man *Manifest, specs map[string]backend.KernelSpec, c Call) ([]float32, error) {
	if c.Kernel < 0 || c.Kernel >= len(man.Kernels) {
		return nil, fmt.Errorf("kernel %d of %d", c.Kernel, len(man.Kernels))
	}
	name := man.Kernels[c.Kernel].Name
	spec, ok := specs[name]
	if !ok {
		return nil, fmt.Errorf("the model and options do not build kernel %s (the folder's model, spec or options differ)", name)
	}
	k, err := be.Load(spec)
	if err != nil {
		return nil, err
	}
	bufs := make([]backend.Buffer, len(c.Bufs))
	defer func() {
		for _, b := range bufs {
			if b != nil {
				be.Free(b)
			}
		}
	}()
	for i, b := range c.Bufs {
		data, err := os.ReadFile(filepath.Join(dir, b.File))
		if err != nil {
			return nil, err
		}
		if len(data) != b.Size {
			return nil, fmt.Errorf("%s has %d bytes, repro.json says %d", b.File, len(data), b.Size)
		}
		if b.ReadOnly {
			bufs[i], err = be.Wrap(data)
		} else if bufs[i], err = be.Alloc(b.Size); err == nil {
			err = be.Upload(bufs[i], 0, data)
		}
		if err != nil {
			return nil, err
		}
	}
	args := make([]backend.Arg, len(c.Args))
	for i, a := range c.Args {
		switch a.Kind {
		case "buffer":
			if a.Buffer < 0 || a.Buffer >= len(bufs) {
				return nil, fmt.Errorf("argument %d: buffer %d of %d", i, a.Buffer, len(bufs))
			}
			args[i] = backend.BufAt(bufs[a.Buffer], a.Offset)
		case "int":
			args[i] = backend.Int(a.Int)
		case "float":
			args[i] = backend.Float(a.Float)
		default:
			return nil, fmt.Errorf("argument %d: kind %q", i, a.Kind)
		}
	}
	enc := be.Begin()
	enc.Dispatch(k, backend.Grid{X: c.Grid[0], Y: c.Grid[1], Z: c.Grid[2]}, args...)
	if err := enc.Commit(); err != nil {
		return nil, err
	}
	o := c.Out
	if o.Buffer < 0 || o.Buffer >= len(bufs) {
		return nil, fmt.Errorf("output buffer %d of %d", o.Buffer, len(bufs))
	}
	raw := make([]byte, o.Count*elemSize(o.Elem))
	if err := be.Download(raw, bufs[o.Buffer], o.Offset); err != nil {
		return nil, err
	}
	return decode(raw, o.Elem, o.Count), nil
}

// report applies the run's perturbations to out, compares it with the
// folder's expectations and prints the C++ runners' report.
func report(w io.Writer, dir string, man *Manifest, out []float32) (*Figures, error) {
	raw := append([]float32(nil), out...)
	for _, pt := range man.Perturb {
		h := parity.Perturbation{Checkpoint: man.Checkpoint, Rel: pt.Rel, Seed: pt.Seed}.Hook()
		h(&model.Tensor{Name: man.Checkpoint, Data: out})
	}
	n := len(out)
	read := func(name string, size int) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil && len(b) != size*n {
			err = fmt.Errorf("repro: %s has %d bytes, want %d", name, len(b), size*n)
		}
		return b, err
	}
	e, err := read("expected.f64.bin", 8)
	if err != nil {
		return nil, err
	}
	c, err := read("expected.cpu.f32.bin", 4)
	if err != nil {
		return nil, err
	}
	rec, err := read("recorded.f32.bin", 4)
	if err != nil {
		return nil, err
	}
	want := make([]float64, n)
	for i := range want {
		want[i] = math.Float64frombits(binary.LittleEndian.Uint64(e[8*i:]))
	}
	cpuv, recv := decode(c, "f32", n), decode(rec, "f32", n)
	differ, ulp := 0, int64(0)
	for i := range out {
		if math.Float32bits(out[i]) != math.Float32bits(recv[i]) {
			differ++
			u := parity.Compare([]float64{float64(out[i])}, []float64{float64(recv[i])}, parity.F32).MaxULP
			ulp = max(ulp, u)
		}
	}
	cmp, err := parity.ParseDType(man.Compare)
	if err != nil {
		return nil, fmt.Errorf("repro: repro.json: compare_dtype %q", man.Compare)
	}
	m := parity.Compare(widen(out), want, cmp)
	vc := parity.Compare(widen(raw), widen(cpuv), parity.F32)
	t := man.Table
	perturbed := ""
	if len(man.Perturb) > 0 {
		perturbed = ", perturbed as the run was"
	}
	cols := man.Output.Cols
	fmt.Fprintf(w, "%s: %s, %d values (%d per position)%s\n", RunnerCPU, man.Checkpoint, n, cols, perturbed)
	fmt.Fprintf(w, "  vs the float64 oracle (the step table's local row, %s):\n", t.A)
	fmt.Fprintf(w, "  %s  %s\n", figLine("step table", t.Metrics), t.Verdict)
	verdict := "FAIL"
	if m.NonFinite == 0 && float64(m.NMSE) <= float64(t.Bound) {
		verdict = "pass"
	}
	fmt.Fprintf(w, "  %s  %s\n", figLine("this run", m), verdict)
	ok := sameFigures(m, t.Metrics)
	fmt.Fprintf(w, "  figures: %s\n", map[bool]string{true: "identical to the step table's", false: "differ from the step table's"}[ok])
	if differ == 0 {
		fmt.Fprintf(w, "  output: bit-identical to the values %s produced\n", t.A)
	} else {
		fmt.Fprintf(w, "  output: %d of %d values differ from those %s produced (max_ulp %d)\n", differ, n, t.A, ulp)
	}
	fmt.Fprintf(w, "  %s\n", figLine("vs cpu backend", vc))
	line := fmt.Sprintf("figures nmse=%x max_abs=%x mean_abs=%x cos=%x max_ulp=%d identical=%d bitexact=%d",
		float64(m.NMSE), float64(m.MaxAbs), float64(m.MeanAbs), float64(m.Cos), m.MaxULP, b2i(ok), b2i(differ == 0))
	fmt.Fprintln(w, line)
	f, err := ParseFigures(line)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// figLine is the C++ runners' line (rp::line).
func figLine(who string, m parity.Metrics) string {
	g3 := func(v parity.Num) string { return fmt.Sprintf("%.3g", float64(v)) }
	return fmt.Sprintf("%-22s max_abs %-9s mean_abs %-9s nmse %-9s cos %.9f max_ulp %d rmse %s max_rel %s",
		who, g3(m.MaxAbs), g3(m.MeanAbs), g3(m.NMSE), float64(m.Cos), m.MaxULP, g3(m.RMSE), g3(m.MaxRel))
}

// sameFigures is rp::same: the figures bit for bit.
func sameFigures(a, b parity.Metrics) bool {
	bits := func(v parity.Num) uint64 { return math.Float64bits(float64(v)) }
	return a.N == b.N && a.NonFinite == b.NonFinite && a.MaxULP == b.MaxULP && a.MaxAbsIndex == b.MaxAbsIndex &&
		bits(a.MaxAbs) == bits(b.MaxAbs) && bits(a.MeanAbs) == bits(b.MeanAbs) && bits(a.NMSE) == bits(b.NMSE) &&
		bits(a.Cos) == bits(b.Cos) && bits(a.RMSE) == bits(b.RMSE) && bits(a.MaxRel) == bits(b.MaxRel)
}
