package kernel

import (
	"fmt"
	"reflect"
)

// Unfused replay: a composed kernel's stages run as kernels of their own.
//
// Split takes the stages a kernel was composed from and returns one Part
// per stage, each composed (by the caller, with Compose) from a copy of
// that stage and a plumbing main that reads the stage's input from a
// buffer and writes its output to one: a prologue gets a Copy main with
// the geometry of the fused main's input (a GEMV's row of K, attention's
// heads, a copy's segments), the main keeps its own body without the
// prologues and epilogues, and each epilogue gets a Pointwise main over
// one output of the fused main. What the fused kernel keeps in registers
// or threadgroup memory between stages goes through float32 buffers
// (Temps), so unfusing adds no rounding: the stages compute what they
// compute fused, from the same stage code, in every dialect and in the
// CPU twin (there, bit for bit).

// Value names a buffer a part reads or writes: an argument of the fused
// kernel's binding, or one of the split's temporaries.
type Value struct {
	// Fused is the argument's name in the fused kernel ("x", "y0", "q");
	// empty for a temporary.
	Fused string
	// Temp indexes Unfused.Temps when Fused is empty.
	Temp int
}

// Flow binds a plumbing argument of a part's kernel to a value.
type Flow struct {
	Arg   string // the argument's name in the part's kernel
	Value Value
}

// Temp is a temporary of an unfused kernel: Width float32 values per
// token row.
type Temp struct{ Width int }

// Part is one stage of a composed kernel as a kernel of its own.
type Part struct {
	// Stage is the stage's name ("rmsnorm", "gemv", "bias", "residual").
	Stage string
	// Output is the output of the fused main the part computes: -1 for a
	// prologue (its result feeds every output), the output for the main
	// (see Outputs) and for an epilogue.
	Output int
	Pros   []Prologue
	Main   Main
	Epis   []Epilogue
	// Reads and Writes are the part's plumbing arguments; every other
	// argument of its kernel is the fused kernel's argument of the same
	// name.
	Reads, Writes []Flow
	// Outputs gives, for each of Writes, the output of the fused main its
	// value belongs to (-1 for the input of the main).
	Outputs []int
	// IsMain marks the part that runs the fused kernel's main (the only
	// part that differs between a projection's GEMV and tiled forms).
	IsMain bool
}

// Unfused is a kernel split into parts.
type Unfused struct {
	Parts []Part
	Temps []Temp
}

// Cloner is implemented by stages that hold other stages (test faults):
// CloneStage returns a copy whose held stages are copies too.
type Cloner interface {
	CloneStage() Stage
}

// Clone returns a copy of stage s that can be composed into another
// kernel without disturbing the kernels s is part of (composing a stage
// assigns its argument handles). It panics when T is not the type of the
// copy, which cannot happen for a stage's own type.
func Clone[T Stage](s T) T {
	if c, ok := any(s).(Cloner); ok {
		return c.CloneStage().(T)
	}
	v := reflect.ValueOf(s)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return s // a value type: copied by assignment
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(T)
}

// geometry is the fused main's input as rows of segments.
type geometry struct {
	n, segs, stride int // segment length, segments per row, row stride
	elem            Type
	in              string // the input's argument name ("" for none)
}

// Split splits the kernel composed from pros, main and epis into parts,
// or returns nil when it has fewer than two stages (a Copy main is the
// store of its prologues and epilogues, not a stage of its own). Mains
// other than Gemv, Attention, Copy and Pointwise cannot be split.
func Split(pros []Prologue, main Main, epis []Epilogue) (*Unfused, error) {
	inner, rewrap := unwrapMain(main)
	if cp, ok := inner.(*Copy); ok {
		return splitCopy(cp, rewrap, pros, epis)
	}
	if len(pros)+1+len(epis) < 2 {
		return nil, nil
	}
	for _, e := range epis {
		if _, ok := e.(RowEpilogue); ok {
			return nil, fmt.Errorf("kernel: cannot split %s: row epilogue %s", main.Name(), e.Name())
		}
	}
	var geo geometry
	var outs []int // output widths
	var outElem Type
	outName := func(o int) string { return fmt.Sprintf("y%d", o) }
	switch m := inner.(type) {
	case *Gemv:
		geo = geometry{m.K, 1, m.K, m.In, "x"}
		outs, outElem = m.N, m.Out
		if m.Pair {
			outs = []int{m.N[0], m.N[0]}
		}
	case *Attention:
		geo = geometry{m.HeadDim, m.Heads, m.Heads * m.HeadDim, m.In, "q"}
		outs, outElem = []int{m.Heads * m.HeadDim}, m.Out
		outName = func(int) string { return "y" }
	default:
		return nil, fmt.Errorf("kernel: cannot split a kernel whose main is %s", main.Name())
	}
	u := &Unfused{}
	temp := func(w int) Value {
		u.Temps = append(u.Temps, Temp{w})
		return Value{Temp: len(u.Temps) - 1}
	}
	src, srcElem := Value{Fused: geo.in}, geo.elem
	for i, p := range pros {
		cp := &Copy{N: geo.n, Segs: geo.segs, SrcStride: geo.stride, DstStride: geo.segs * geo.n, In: srcElem, Out: Float}
		if i > 0 {
			cp.SrcStride = geo.segs * geo.n
		}
		part := Part{Stage: p.Name(), Output: -1, Pros: []Prologue{Clone(p)}, Main: cp, Outputs: []int{-1}}
		if _, ok := p.(*Embed); ok {
			cp.Gathered = true
		} else {
			part.Reads = []Flow{{"x", src}}
		}
		t := temp(geo.segs * geo.n)
		part.Writes = []Flow{{"y", t}}
		u.Parts = append(u.Parts, part)
		src, srcElem = t, Float
	}
	// The main, without its prologues and epilogues.
	mp := Part{Stage: main.Name(), Reads: []Flow{{geo.in, src}}, IsMain: true}
	finals := make([]Value, len(outs))
	switch m := Clone(inner).(type) {
	case *Gemv:
		m.In = srcElem
		if len(epis) > 0 {
			m.Out, m.AtPos = Float, nil
			if m.Pair {
				m.Pair, m.N = false, []int{m.N[0], m.N[0]}
			}
		}
		mp.Main = rewrap(m)
	case *Attention:
		m.In = srcElem
		if len(epis) > 0 {
			m.Out = Float
		}
		mp.Main = rewrap(m)
	}
	for o := range outs {
		v := Value{Fused: outName(o)}
		if len(epis) > 0 {
			v = temp(outs[o])
		}
		finals[o] = v
		mp.Writes = append(mp.Writes, Flow{outName(o), v})
		mp.Outputs = append(mp.Outputs, o)
	}
	u.Parts = append(u.Parts, mp)
	if len(epis) == 0 {
		return u, nil
	}
	// The epilogues, one output at a time; a gate/up pair has one output
	// whose epilogues read the up half as Aux.
	g, pair := inner.(*Gemv)
	pair = pair && g.Pair
	n := len(outs)
	if pair {
		n = 1
	}
	for o := 0; o < n; o++ {
		cur := finals[o]
		for j, e := range epis {
			last := j == len(epis)-1
			pw := &Pointwise{N: outs[o], O: o, In: Float, Out: Float, Aux: pair}
			dst := Value{}
			if last {
				pw.Out, dst = outElem, Value{Fused: outName(o)}
				if g != nil {
					pw.Offset = g.atPos(o)
				}
			} else {
				dst = temp(outs[o])
			}
			part := Part{Stage: e.Name(), Output: o, Main: pw, Epis: []Epilogue{Clone(e)},
				Reads: []Flow{{"x", cur}}, Writes: []Flow{{"y", dst}}, Outputs: []int{o}}
			if pair {
				part.Reads = append(part.Reads, Flow{"aux", finals[1]})
			}
			u.Parts = append(u.Parts, part)
			cur = dst
		}
	}
	return u, nil
}

// splitCopy splits a kernel whose main is a Copy: one Copy per prologue
// and epilogue, the first reading (or gathering) as the fused copy does,
// the last writing (or scattering, or writing at the call's position) as
// it does, the others through float32 temporaries of packed rows.
func splitCopy(m *Copy, rewrap func(Main) Main, pros []Prologue, epis []Epilogue) (*Unfused, error) {
	n := len(pros) + len(epis)
	if n < 2 {
		return nil, nil
	}
	for j, e := range epis {
		if re, ok := e.(RowEpilogue); ok && re.Collapse() && j != len(epis)-1 {
			return nil, fmt.Errorf("kernel: cannot split copy: the collapsing epilogue %s is not the last stage", e.Name())
		}
	}
	u := &Unfused{}
	packed := m.Segs * m.N
	src := Value{Fused: "x"}
	for i := 0; i < n; i++ {
		first, last := i == 0, i == n-1
		cp := &Copy{Mode: CopyRows, N: m.N, Segs: m.Segs, SrcStride: packed, DstStride: packed, In: Float, Out: Float, SIMD: m.SIMD}
		if first {
			cp.SrcStride, cp.In, cp.Gathered = m.SrcStride, m.In, m.Gathered
			if m.Mode == CopyGather {
				cp.Mode = CopyGather
			}
		}
		var dst Value
		if last {
			cp.DstStride, cp.Out, cp.Offset = m.DstStride, m.Out, m.Offset
			if m.Mode == CopyScatter {
				cp.Mode = CopyScatter
			}
			dst = Value{Fused: "y"}
		} else {
			u.Temps = append(u.Temps, Temp{packed})
			dst = Value{Temp: len(u.Temps) - 1}
		}
		part := Part{Output: -1, Main: rewrap(cp), Writes: []Flow{{"y", dst}}, Outputs: []int{-1}}
		if last {
			part.Outputs = []int{0}
		}
		if !cp.Gathered {
			part.Reads = []Flow{{"x", src}}
		}
		if i < len(pros) {
			part.Stage, part.Pros = pros[i].Name(), []Prologue{Clone(pros[i])}
		} else {
			e := epis[i-len(pros)]
			part.Stage, part.Epis = e.Name(), []Epilogue{Clone(e)}
		}
		u.Parts = append(u.Parts, part)
		src = dst
	}
	return u, nil
}
