package dsl

import (
	"fmt"
	"sort"

	"github.com/metallic-go/metallic/model"
)

// FieldKind is what a step field holds.
type FieldKind int

// Field kinds.
const (
	// FTensor names a logical tensor of the spec's tensors.
	FTensor FieldKind = iota
	// FBufIn names an activation buffer written by an earlier step.
	FBufIn
	// FBufOut names the activation buffer the step writes.
	FBufOut
	// FCache names a per-layer KV cache.
	FCache
	// FInt is an int literal or int variable.
	FInt
	// FFloat is a number literal or float variable.
	FFloat
	// FString is a string literal or string variable.
	FString
	// FCheckpoint names the checkpoint kind of the step's output.
	FCheckpoint
)

var kindNames = map[FieldKind]string{FTensor: "tensor", FBufIn: "buffer", FBufOut: "buffer",
	FCache: "cache", FInt: "int", FFloat: "float", FString: "string", FCheckpoint: "checkpoint"}

// Field declares one field of a step.
type Field struct {
	Name     string
	Kind     FieldKind
	Optional bool
}

// StepDef is a registered step: its fields and its compiler.
type StepDef struct {
	Doc    string
	Fields []Field
	// Build compiles one instance (one layer, inside a repeat) into ops.
	Build func(b *Build) error
}

var stepDefs = map[string]StepDef{}

// RegisterStep makes a step op available to specs. It panics on a
// duplicate name or on "repeat", which is built in.
func RegisterStep(name string, d StepDef) {
	if _, dup := stepDefs[name]; dup || name == "repeat" {
		panic("dsl: step " + name + " registered twice")
	}
	stepDefs[name] = d
}

// Steps lists the registered step ops, sorted.
func Steps() []string {
	var out []string
	for n := range stepDefs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type validator struct {
	s     *Spec
	bufs  map[string]bool
	loops map[string]bool
}

func (v *validator) steps(path string, arr []any) ([]*Step, error) {
	var out []*Step
	for i, raw := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, specErr(p, "want a step object, got %s", jsonType(raw))
		}
		op, ok := obj["op"].(string)
		if !ok {
			return nil, specErr(p+".op", "want the op name, got %s", jsonType(obj["op"]))
		}
		st := &Step{Op: op, Path: p, Fields: map[string]any{}}
		if op == "repeat" {
			if err := v.repeat(p, obj, st); err != nil {
				return nil, err
			}
			out = append(out, st)
			continue
		}
		def, ok := stepDefs[op]
		if !ok {
			return nil, specErr(p+".op", "unknown op %q (known: repeat, %v)", op, Steps())
		}
		allowed := []string{"op"}
		for _, f := range def.Fields {
			allowed = append(allowed, f.Name)
		}
		if err := onlyKeys(p, obj, allowed...); err != nil {
			return nil, err
		}
		var outs []string
		for _, f := range def.Fields {
			fp := p + "." + f.Name
			raw, present := obj[f.Name]
			if !present {
				if f.Optional {
					continue
				}
				return nil, specErr(fp, "missing %s field", kindNames[f.Kind])
			}
			val, err := v.field(fp, f, raw)
			if err != nil {
				return nil, err
			}
			st.Fields[f.Name] = val
			if f.Kind == FBufOut {
				outs = append(outs, val.(string))
			}
		}
		for _, o := range outs {
			v.bufs[o] = true
		}
		out = append(out, st)
	}
	return out, nil
}

func (v *validator) repeat(p string, obj map[string]any, st *Step) error {
	if err := onlyKeys(p, obj, "op", "count", "var", "steps"); err != nil {
		return err
	}
	c, err := v.field(p+".count", Field{Kind: FInt}, obj["count"])
	if err != nil {
		return err
	}
	st.Count = c
	name, ok := obj["var"].(string)
	if !ok || !isIdent(name) {
		return specErr(p+".var", "want a loop variable name, got %s", jsonType(obj["var"]))
	}
	if _, clash := v.s.Variables[name]; clash || v.loops[name] {
		return specErr(p+".var", "%q is already defined", name)
	}
	st.Var = name
	arr, ok := obj["steps"].([]any)
	if !ok || len(arr) == 0 {
		return specErr(p+".steps", "want a non-empty array of steps, got %s", jsonType(obj["steps"]))
	}
	v.loops[name] = true
	st.Steps, err = v.steps(p+".steps", arr)
	delete(v.loops, name)
	return err
}

// field validates one field value; the result is a string (names,
// variable references), an int or a float64.
func (v *validator) field(p string, f Field, raw any) (any, error) {
	switch f.Kind {
	case FInt, FFloat, FString:
		want := map[FieldKind]VarType{FInt: TInt, FFloat: TFloat, FString: TString}[f.Kind]
		if name, ok := raw.(string); ok && (f.Kind != FString || isVarRef(name)) {
			if f.Kind == FString {
				name = name[1:]
			}
			if v.loops[name] {
				if want != TInt {
					return nil, specErr(p, "loop variable %q is int, want %s", name, want)
				}
				return varRef(name), nil
			}
			d, ok := v.s.Variables[name]
			if !ok {
				return nil, specErr(p, "undefined variable %q", name)
			}
			if d.Type != want {
				return nil, specErr(p, "variable %q is %s, want %s", name, d.Type, want)
			}
			return varRef(name), nil
		}
		return literal(p, raw, want)
	}
	name, ok := raw.(string)
	if !ok || name == "" {
		return nil, specErr(p, "want a %s name, got %s", kindNames[f.Kind], jsonType(raw))
	}
	switch f.Kind {
	case FTensor:
		d, ok := v.s.Tensors[name]
		if !ok {
			return nil, specErr(p, "unknown tensor %q (not in tensors)", name)
		}
		for _, n := range d.Names {
			for _, ph := range placeholders(n) {
				if !v.loops[ph] {
					return nil, specErr(p, "tensor %q: name %q uses undefined variable {%s}", name, n, ph)
				}
			}
		}
	case FBufIn:
		if !v.bufs[name] {
			return nil, specErr(p, "undefined buffer %q (no earlier step writes it)", name)
		}
	case FBufOut, FCache:
		if !isIdent(name) {
			return nil, specErr(p, "%q is not an identifier", name)
		}
	case FCheckpoint:
		if !knownCheckpoint(name) {
			return nil, specErr(p, "unknown checkpoint kind %q", name)
		}
	}
	return name, nil
}

// varRef is a reference to a variable, resolved when the spec compiles.
type varRef string

// isVarRef reports whether a string field value refers to a variable:
// "$name". Plain strings are literals.
func isVarRef(s string) bool { return len(s) > 1 && s[0] == '$' }

func knownCheckpoint(k string) bool { return model.IsKind(k) }
