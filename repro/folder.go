package repro

import (
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/cuda"
	"github.com/metallic-go/metallic/dsl/kernel"
	"github.com/metallic-go/metallic/metal"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

//go:embed runtime/repro.h
var runtimeHeader string

// folder writes one repro.
type folder struct {
	o        Options
	m        *model.Model
	path     model.Path
	calls    []*call
	cols     int
	row      parity.Row
	cmp      parity.DType
	steps    *parity.Steps
	expected []float64
	cpu      []float32
	recorded []float32
	perturb  []perturb

	man   *Manifest
	files map[[32]byte]string // buffer contents → file
	// ks are the kernels, with what the code generators need.
	ks []*kern
}

// kern is one kernel of the repro.
type kern struct {
	info     Kernel
	spec     backend.KernelSpec
	cudaSrc  string // "" when there is no CUDA source
	mslSrc   string
	cudaWhy  string // why there is none
	mslWhy   string
	composed *kernel.Kernel
}

// write writes the folder and returns its manifest.
func (f *folder) write() (*Manifest, error) {
	o := f.o
	for _, d := range []string{"", "buffers", "kernels", "host", "cuda", "metal"} {
		if err := os.MkdirAll(filepath.Join(o.Out, d), 0o755); err != nil {
			return nil, fmt.Errorf("repro: %w", err)
		}
	}
	f.files = map[[32]byte]string{}
	tr := f.steps.Traces[0]
	man := &Manifest{Version: 1, Model: filepath.Base(o.File), Path: f.path.Name(), Backend: backendName(o.PathOptions.Backend),
		Numerics: f.path.Numerics(), Act: string(tr.DType), KV: string(tr.KV), FlashAttn: o.PathOptions.FlashAttn,
		Spec: o.PathOptions.Spec, Unfuse: o.PathOptions.Unfuse,
		Checkpoint: o.Checkpoint, Op: f.row.Op, Stage: f.row.Stage, Of: f.row.Of, Tokens: tr.Tokens, PromptLen: tr.Prompt,
		Perturb: f.perturb, Table: f.row, Compare: string(f.cmp), Unusable: map[string]string{},
		Output: Output{Rows: len(f.recorded) / f.cols, Cols: f.cols, Elem: f.calls[0].elem}}
	if man.Perturb == nil {
		man.Perturb = []perturb{}
	}
	man.Files = map[string]string{"expected_f64": "expected.f64.bin", "expected_cpu": "expected.cpu.f32.bin",
		"recorded": "recorded.f32.bin", "runtime": "repro.h", "data": "repro_data.h"}
	if bp, ok := f.path.(interface{ Backend() backend.Backend }); ok {
		if d, ok := bp.Backend().(interface{ Describe() string }); ok {
			man.Provenance = d.Describe()
		}
	}
	f.man = man
	f.compileOptions()
	for i, c := range f.calls {
		cl, err := f.call(i, c)
		if err != nil {
			return nil, err
		}
		man.Calls = append(man.Calls, cl)
	}
	for _, k := range f.ks {
		man.Kernels = append(man.Kernels, k.info)
	}
	if err := f.writeFloats(); err != nil {
		return nil, err
	}
	if err := f.runners(); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := f.put("repro.json", append(js, '\n')); err != nil {
		return nil, err
	}
	return man, f.put("README.md", []byte(f.readme()))
}

func backendName(b string) string {
	if b == "" {
		return "cpu"
	}
	return b
}

// put writes a file of the folder.
func (f *folder) put(name string, data []byte) error {
	if err := os.WriteFile(filepath.Join(f.o.Out, name), data, 0o644); err != nil {
		return fmt.Errorf("repro: %w", err)
	}
	return nil
}

// buffer writes a buffer's contents once and returns its file.
func (f *folder) buffer(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	if name, ok := f.files[sum]; ok {
		return name, nil
	}
	name := "buffers/" + hex.EncodeToString(sum[:8]) + ".bin"
	f.files[sum] = name
	return name, f.put(name, data)
}

// compileOptions records how every dialect is compiled: the NVRTC options
// of the cuda backend the run used (or, off cuda, those it gives an
// sm_90 device), their nvcc spelling, the metal backend's options and the
// host runners' flags.
func (f *folder) compileOptions() {
	nv := cuda.NVRTCOptions(9, 0)
	if bp, ok := f.path.(interface{ Backend() backend.Backend }); ok {
		if r, ok := bp.Backend().(*recorder); ok {
			if cb, ok := r.inner.(*cuda.Backend); ok {
				nv = cb.Provenance().Options
			}
		}
	}
	var nvcc []string
	for _, o := range nv {
		switch {
		case strings.HasPrefix(o, "--gpu-architecture="):
			nvcc = append(nvcc, "-arch="+strings.TrimPrefix(o, "--gpu-architecture="))
		case strings.HasPrefix(o, "--include-path="):
		default:
			nvcc = append(nvcc, o)
		}
	}
	f.man.Compile = Compile{NVRTC: nv, NVCC: nvcc, Host: hostFlags,
		Metal: "MTLCompileOptions: languageVersion MSL 3.0, mathMode safe (macOS 15+; fastMathEnabled = NO before)"}
}

// hostFlags are the clang flags of the host runners: those of the host
// runtimes' libraries (clangcheck.HostLibFlags) for an executable, -O1.
var hostFlags = []string{"-x", "c++", "-std=c++17", "-O1", "-fno-strict-aliasing", "-fsanitize=alignment",
	"-fsanitize-trap=alignment", "-ffp-contract=off", "-Wno-unknown-attributes", "-Wno-unknown-pragmas"}

// kernelOf returns the index of the repro's kernel for a dispatch's spec,
// adding it the first time.
func (f *folder) kernelOf(c *call) (int, error) {
	spec := c.d.spec
	name := spec.Name
	composed := spec.CUDA != "" || spec.MSL != "" || spec.CPU != nil
	if !composed {
		name = builtinLabel(spec)
	}
	for i, k := range f.ks {
		if k.info.Name == name {
			return i, nil
		}
	}
	k := &kern{spec: spec, info: Kernel{Name: name, Builtin: !composed}}
	if composed {
		k.cudaSrc, k.mslSrc = spec.CUDA, spec.MSL
		k.info.CUDAName, k.info.MSLName = spec.Entry, spec.Entry
		if kp, ok := f.path.(interface{ Kernels() []*kernel.Kernel }); ok {
			for _, ck := range kp.Kernels() {
				if ck.Name == spec.Name {
					k.composed = ck
				}
			}
		}
		if k.composed != nil {
			k.info.Stages = k.composed.Stages
			for _, a := range k.composed.Args {
				ai := ArgInfo{Index: a.Index, Name: a.Name, Kind: [...]string{"buffer", "int", "float"}[a.Kind], Output: a.Output}
				if a.Kind == kernel.ArgBuffer {
					ai.Elem = a.Elem.In(kernel.CUDA)
				}
				k.info.Args = append(k.info.Args, ai)
			}
		}
		if k.cudaSrc == "" {
			k.cudaWhy = "the kernel has no CUDA source"
		}
		if k.mslSrc == "" {
			k.mslWhy = "the kernel has no MSL source"
		}
	} else {
		k.info.Op = spec.Name
		if l, err := cuda.BuiltinLaunch(spec, c.d.grid, c.d.args); err != nil {
			k.cudaWhy = err.Error()
		} else {
			k.cudaSrc, k.info.CUDAName = l.Source, l.Entry
		}
		if l, err := metal.BuiltinLaunch(spec, c.d.grid, c.d.args); err != nil {
			k.mslWhy = err.Error()
		} else {
			k.mslSrc, k.info.MSLName = l.Source, l.Entry
		}
	}
	safe := ident(name)
	if k.cudaSrc != "" {
		k.info.CUDA = "kernels/" + safe + ".cu"
		if err := f.put(k.info.CUDA, []byte(k.cudaSrc)); err != nil {
			return 0, err
		}
	}
	if k.mslSrc != "" {
		k.info.MSL = "kernels/" + safe + ".metal"
		if err := f.put(k.info.MSL, []byte(k.mslSrc)); err != nil {
			return 0, err
		}
	}
	f.ks = append(f.ks, k)
	return len(f.ks) - 1, nil
}

// builtinLabel names a built-in op specialization.
func builtinLabel(s backend.KernelSpec) string {
	num := s.Numerics
	if num == "" {
		num = backend.Plain
	}
	return fmt.Sprintf("%s_%s_in%s_out%s_kv%s_%s", s.Name, strings.ToLower(s.Weight.String()), s.In, s.Out, s.KV, num)
}

func ident(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func dims(g backend.Grid) [3]int { return [3]int{max(g.X, 1), max(g.Y, 1), max(g.Z, 1)} }

// call describes forward call i's dispatch and writes its buffers.
func (f *folder) call(i int, c *call) (Call, error) {
	ki, err := f.kernelOf(c)
	if err != nil {
		return Call{}, err
	}
	k := f.ks[ki]
	cl := Call{Pos: c.pos, Rows: c.rows, Kernel: ki, Grid: [3]int{c.d.grid.X, c.d.grid.Y, c.d.grid.Z}}
	index := map[*recBuf]int{}
	var names []string
	if k.composed != nil {
		for _, a := range k.composed.Args {
			names = append(names, a.Name)
		}
	}
	for j, a := range c.d.args {
		arg := Arg{}
		if j < len(names) {
			arg.Name = names[j]
		}
		switch a.Kind {
		case backend.ArgBuffer:
			rb := a.Buf.(*recBuf)
			bi, ok := index[rb]
			if !ok {
				file, err := f.buffer(c.d.before[rb])
				if err != nil {
					return Call{}, err
				}
				bi = len(cl.Bufs)
				index[rb] = bi
				cl.Bufs = append(cl.Bufs, Buffer{File: file, Size: rb.size, ReadOnly: rb.wrapped != nil})
			}
			arg.Kind, arg.Buffer, arg.Offset = "buffer", bi, a.Off
		case backend.ArgInt:
			arg.Kind, arg.Int = "int", a.I
		case backend.ArgFloat:
			arg.Kind, arg.Float, arg.Hex = "float", a.F, strconv.FormatFloat(float64(a.F), 'x', -1, 32)
		}
		cl.Args = append(cl.Args, arg)
	}
	cl.Out = OutRegion{Buffer: cl.Args[c.out].Buffer, Offset: c.off, Count: c.rows * f.cols, Elem: c.elem}
	if k.info.Builtin {
		if l, err := cuda.BuiltinLaunch(k.spec, c.d.grid, c.d.args); err == nil {
			cl.CUDA = &Launch{Grid: l.Grid, Threads: l.Block, Shared: l.Shared}
		}
		if l, err := metal.BuiltinLaunch(k.spec, c.d.grid, c.d.args); err == nil {
			cl.MSL = &Launch{Grid: l.Grid, Threads: l.Threads, Shared: l.TGMem}
			cl.Binds = builtinBinds(cl.Args, l.StructIndex)
		}
		return cl, nil
	}
	threads := [3]int{max(k.spec.Threads, 1), 1, 1}
	if k.cudaSrc != "" {
		cl.CUDA = &Launch{Grid: dims(c.d.grid), Threads: threads, Shared: k.spec.SharedBytes}
	}
	if k.mslSrc != "" {
		cl.MSL = &Launch{Grid: dims(c.d.grid), Threads: threads, Shared: k.spec.SharedBytes}
		for j, a := range cl.Args {
			b := Bind{Index: j, Buffer: -1}
			switch a.Kind {
			case "buffer":
				b.Buffer, b.Offset = a.Buffer, a.Offset
			case "int":
				b.Bytes = binary.LittleEndian.AppendUint32(nil, uint32(int32(a.Int)))
			case "float":
				b.Bytes = binary.LittleEndian.AppendUint32(nil, math.Float32bits(a.Float))
			}
			cl.Binds = append(cl.Binds, b)
		}
	}
	return cl, nil
}

// builtinBinds are a built-in op's Metal bindings (metal.Launch): the
// buffers at 0… in order, then one struct of the scalars and al, each
// buffer's offset mod 16 in 4 bits, at structIndex.
func builtinBinds(args []Arg, structIndex int) []Bind {
	var binds []Bind
	var st []byte
	var al uint32
	nb := 0
	for _, a := range args {
		switch a.Kind {
		case "buffer":
			binds = append(binds, Bind{Index: nb, Buffer: a.Buffer, Offset: a.Offset})
			al |= uint32(a.Offset&15) << (4 * nb)
			nb++
		case "int":
			st = binary.LittleEndian.AppendUint32(st, uint32(int32(a.Int)))
		case "float":
			st = binary.LittleEndian.AppendUint32(st, math.Float32bits(a.Float))
		}
	}
	st = binary.LittleEndian.AppendUint32(st, al)
	return append(binds, Bind{Index: structIndex, Buffer: -1, Bytes: st})
}

// writeFloats writes the expected and recorded outputs.
func (f *folder) writeFloats() error {
	e := make([]byte, 8*len(f.expected))
	for i, v := range f.expected {
		binary.LittleEndian.PutUint64(e[8*i:], math.Float64bits(v))
	}
	if err := f.put("expected.f64.bin", e); err != nil {
		return err
	}
	if err := f.put("expected.cpu.f32.bin", encode(f.cpu, "f32")); err != nil {
		return err
	}
	return f.put("recorded.f32.bin", encode(f.recorded, "f32"))
}
