package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// SpecError is a spec validation error at a JSON path such as
// "forward[1].steps[3].gamma".
type SpecError struct {
	Path string
	Msg  string
}

// Error returns "spec: PATH: message".
func (e *SpecError) Error() string { return "spec: " + e.Path + ": " + e.Msg }

func specErr(path, format string, a ...any) error {
	return &SpecError{Path: path, Msg: fmt.Sprintf(format, a...)}
}

// VarType is the type of a spec variable.
type VarType string

// Variable types.
const (
	TInt    VarType = "int"
	TFloat  VarType = "float"
	TString VarType = "string"
)

// Variable is a typed spec variable: a literal Value or a configuration
// field From.
type Variable struct {
	Type  VarType
	From  string
	Value any // int, float64 or string when From is empty
}

// sources are the configuration fields a variable may come From.
var sources = map[string]VarType{
	"dim": TInt, "layers": TInt, "heads": TInt, "kv_heads": TInt, "head_dim": TInt,
	"ff": TInt, "vocab": TInt, "context_len": TInt, "rope_dim": TInt,
	"rope_base": TFloat, "norm_eps": TFloat, "rope_style": TString, "arch": TString,
}

func sourceValue(c *model.Config, from string) any {
	switch from {
	case "dim":
		return c.Dim
	case "layers":
		return c.Layers
	case "heads":
		return c.Heads
	case "kv_heads":
		return c.KVHeads
	case "head_dim":
		return c.HeadDim
	case "ff":
		return c.FF
	case "vocab":
		return c.Vocab
	case "context_len":
		return c.ContextLen
	case "rope_dim":
		return c.RopeDim
	case "rope_base":
		return float64(c.RopeBase)
	case "norm_eps":
		return float64(c.NormEps)
	case "rope_style":
		if c.RopeStyle == model.RopeNeoX {
			return "neox"
		}
		return "normal"
	}
	return c.Arch
}

// TensorDecl is a logical tensor: GGUF names tried in order.
type TensorDecl struct {
	Names    []string
	Optional bool // absent from the model is allowed
}

// Step is one forward step: an op and its fields (validated), or a repeat.
type Step struct {
	Op     string
	Path   string
	Fields map[string]any // string, int or float64 per the step's declaration
	// Repeat only.
	Count any // int or variable name
	Var   string
	Steps []*Step
}

// Spec is a validated model spec.
type Spec struct {
	Architecture string
	Variables    map[string]Variable
	Tensors      map[string]TensorDecl
	Forward      []*Step
}

// Parse decodes and validates a spec.
func Parse(data []byte) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("spec: invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("spec: invalid JSON: trailing data after the top-level object")
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, specErr("$", "want an object, got %s", jsonType(root))
	}
	if err := onlyKeys("$", top, "architecture", "variables", "tensors", "forward"); err != nil {
		return nil, err
	}
	s := &Spec{Variables: map[string]Variable{}, Tensors: map[string]TensorDecl{}}
	arch, ok := top["architecture"].(string)
	if !ok || arch == "" {
		return nil, specErr("architecture", "want a non-empty string, got %s", jsonType(top["architecture"]))
	}
	s.Architecture = arch
	if err := s.parseVariables(top["variables"]); err != nil {
		return nil, err
	}
	if err := s.parseTensors(top["tensors"]); err != nil {
		return nil, err
	}
	fw, ok := top["forward"].([]any)
	if !ok || len(fw) == 0 {
		return nil, specErr("forward", "want a non-empty array of steps, got %s", jsonType(top["forward"]))
	}
	v := &validator{s: s, bufs: map[string]bool{}, loops: map[string]bool{}}
	steps, err := v.steps("forward", fw)
	if err != nil {
		return nil, err
	}
	s.Forward = steps
	return s, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func onlyKeys(path string, m map[string]any, allowed ...string) error {
	for _, k := range sortedKeys(m) {
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return specErr(join(path, k), "unknown field (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "$" {
		return key
	}
	return path + "." + key
}

func (s *Spec) parseVariables(raw any) error {
	if raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return specErr("variables", "want an object, got %s", jsonType(raw))
	}
	for _, name := range sortedKeys(m) {
		p := "variables." + name
		if !isIdent(name) {
			return specErr(p, "variable name is not an identifier")
		}
		d, ok := m[name].(map[string]any)
		if !ok {
			return specErr(p, "want an object {type, from|value}, got %s", jsonType(m[name]))
		}
		if err := onlyKeys(p, d, "type", "from", "value"); err != nil {
			return err
		}
		ts, _ := d["type"].(string)
		t := VarType(ts)
		if t != TInt && t != TFloat && t != TString {
			return specErr(p+".type", "want \"int\", \"float\" or \"string\", got %v", d["type"])
		}
		v := Variable{Type: t}
		_, hasFrom := d["from"]
		_, hasValue := d["value"]
		switch {
		case hasFrom == hasValue:
			return specErr(p, "want exactly one of from and value")
		case hasFrom:
			from, _ := d["from"].(string)
			st, ok := sources[from]
			if !ok {
				return specErr(p+".from", "unknown configuration field %v", d["from"])
			}
			if st != t {
				return specErr(p+".from", "%s is %s, variable is %s", from, st, t)
			}
			v.From = from
		default:
			val, err := literal(p+".value", d["value"], t)
			if err != nil {
				return err
			}
			v.Value = val
		}
		s.Variables[name] = v
	}
	return nil
}

// literal converts a JSON literal to type t.
func literal(path string, raw any, t VarType) (any, error) {
	switch t {
	case TString:
		if s, ok := raw.(string); ok {
			return s, nil
		}
	case TInt:
		if n, ok := raw.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return int(i), nil
			}
			return nil, specErr(path, "want an int, got %s", n)
		}
	case TFloat:
		if n, ok := raw.(json.Number); ok {
			f, err := n.Float64()
			if err == nil {
				return f, nil
			}
		}
	}
	return nil, specErr(path, "want %s, got %s", article(t), jsonType(raw))
}

func article(t VarType) string {
	if t == TInt {
		return "an int"
	}
	return "a " + string(t)
}

func (s *Spec) parseTensors(raw any) error {
	m, ok := raw.(map[string]any)
	if !ok {
		return specErr("tensors", "want an object, got %s", jsonType(raw))
	}
	for _, name := range sortedKeys(m) {
		p := "tensors." + name
		var d TensorDecl
		var list any = m[name]
		if obj, ok := m[name].(map[string]any); ok {
			if err := onlyKeys(p, obj, "names", "optional"); err != nil {
				return err
			}
			list = obj["names"]
			if o, ok := obj["optional"]; ok {
				b, ok := o.(bool)
				if !ok {
					return specErr(p+".optional", "want a boolean, got %s", jsonType(o))
				}
				d.Optional = b
			}
			p += ".names"
		}
		arr, ok := list.([]any)
		if !ok || len(arr) == 0 {
			return specErr(p, "want a non-empty array of GGUF names, got %s", jsonType(list))
		}
		for i, n := range arr {
			str, ok := n.(string)
			if !ok || str == "" {
				return specErr(fmt.Sprintf("%s[%d]", p, i), "want a GGUF tensor name, got %s", jsonType(n))
			}
			d.Names = append(d.Names, str)
		}
		s.Tensors[name] = d
	}
	return nil
}

// placeholders returns the {var} names in a tensor name.
func placeholders(name string) []string {
	var out []string
	for {
		i := strings.IndexByte(name, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(name[i:], '}')
		if j < 0 {
			return append(out, name[i+1:])
		}
		out = append(out, name[i+1:i+j])
		name = name[i+j+1:]
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
