package metal

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The kernel function's parameter list, read from its MSL source. Load
// checks every kernel against it before Metal compiles anything: which
// argument each [[buffer(i)]] slot takes, whether it is a buffer or a
// value set with setBytes, and whether the kernel wants dynamic
// threadgroup memory. Dispatch then checks each call against it, so a
// wrong argument is an error naming the parameter, not a GPU fault.

// paramRole says what a kernel parameter receives.
type paramRole uint8

const (
	// roleBuffer is a [[buffer(i)]] pointer: setBuffer:offset:atIndex:.
	roleBuffer paramRole = iota
	// roleBytes is a [[buffer(i)]] constant reference: setBytes:length:atIndex:.
	roleBytes
	// roleThreadgroupMem is a [[threadgroup(i)]] pointer: dynamic
	// threadgroup memory (setThreadgroupMemoryLength:atIndex:).
	roleThreadgroupMem
	// roleBuiltin is a thread-position attribute the GPU fills in.
	roleBuiltin
)

// mslParam is one parameter of a kernel function.
type mslParam struct {
	Name  string
	Type  string // as declared: "device const float*", "constant MatMulArgs&", "uint3"
	Attr  string // the attribute's name: "buffer", "threadgroup", "threadgroup_position_in_grid", …
	Index int    // buffer or threadgroup index; -1 for built-ins
	Role  paramRole
	// Elem is the pointee or referenced type without qualifiers ("float",
	// "MatMulArgs"); the type itself for built-ins.
	Elem string
}

// mslKernel is a kernel function's name and parameters.
type mslKernel struct {
	Name   string
	Params []mslParam
}

// builtinAttrs are the thread-position attributes a kernel may take (the
// ones metallic's kernels and dsl's generated kernels use).
var builtinAttrs = map[string]bool{
	"threadgroup_position_in_grid":   true,
	"thread_index_in_threadgroup":    true,
	"threads_per_threadgroup":        true,
	"thread_position_in_grid":        true,
	"thread_position_in_threadgroup": true,
	"simdgroup_index_in_threadgroup": true,
	"thread_index_in_simdgroup":      true,
}

var (
	attrRe  = regexp.MustCompile(`\[\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*(\d+)\s*\))?\s*\]\]\s*$`)
	identRe = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*$`)
)

// parseKernel finds the kernel function entry in src and reads its
// parameters. It fails, naming the parameter, on anything it cannot
// classify: a parameter without an attribute, a [[buffer(i)]] that is
// neither a pointer nor a constant reference, an index used twice, or an
// unknown attribute.
func parseKernel(src, entry string) (mslKernel, error) {
	k := mslKernel{Name: entry}
	head := regexp.MustCompile(`\bkernel\s+void\s+` + regexp.QuoteMeta(entry) + `\s*\(`)
	loc := head.FindStringIndex(src)
	if loc == nil {
		return k, fmt.Errorf("no kernel function %q in the source", entry)
	}
	list, ok := balancedParens(src[loc[1]-1:])
	if !ok {
		return k, fmt.Errorf("kernel %s: unbalanced parameter list", entry)
	}
	bufs, tgs := map[int]string{}, map[int]string{}
	for _, raw := range splitTop(list) {
		p, err := parseParam(raw)
		if err != nil {
			return k, fmt.Errorf("kernel %s: %w", entry, err)
		}
		seen := bufs
		if p.Role == roleThreadgroupMem {
			seen = tgs
		}
		if p.Role != roleBuiltin {
			if prev, dup := seen[p.Index]; dup {
				return k, fmt.Errorf("kernel %s: parameters %s and %s share [[%s(%d)]]", entry, prev, p.Name, p.Attr, p.Index)
			}
			seen[p.Index] = p.Name
		}
		k.Params = append(k.Params, p)
	}
	return k, nil
}

// balancedParens returns what lies between s's first '(' and its matching
// ')'.
func balancedParens(s string) (string, bool) {
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], true
			}
		}
	}
	return "", false
}

// splitTop splits a parameter list at the commas outside parentheses and
// brackets.
func splitTop(list string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range list {
		switch c {
		case '(', '[', '<':
			depth++
		case ')', ']', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, list[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(list[start:]) != "" {
		out = append(out, list[start:])
	}
	return out
}

// parseParam classifies one parameter declaration.
func parseParam(raw string) (mslParam, error) {
	decl := strings.Join(strings.Fields(raw), " ")
	m := attrRe.FindStringSubmatchIndex(decl)
	if m == nil {
		return mslParam{}, fmt.Errorf("parameter %q has no attribute", decl)
	}
	p := mslParam{Attr: decl[m[2]:m[3]], Index: -1}
	if m[4] >= 0 {
		p.Index, _ = strconv.Atoi(decl[m[4]:m[5]])
	}
	rest := strings.TrimSpace(decl[:m[0]])
	id := identRe.FindStringSubmatchIndex(rest)
	if id == nil {
		return mslParam{}, fmt.Errorf("parameter %q has no name", decl)
	}
	p.Name = rest[id[2]:id[3]]
	p.Type = strings.TrimSpace(rest[:id[2]])
	ptr, ref := strings.HasSuffix(p.Type, "*"), strings.HasSuffix(p.Type, "&")
	p.Elem = p.Type
	if ptr || ref {
		var words []string
		for _, w := range strings.Fields(strings.TrimRight(p.Type, "*& ")) {
			if w != "device" && w != "constant" && w != "threadgroup" && w != "const" && w != "volatile" {
				words = append(words, w)
			}
		}
		p.Elem = strings.Join(words, " ")
	}
	space := strings.Fields(p.Type)[0]
	switch {
	case p.Attr == "buffer" && p.Index >= 0 && ptr && (space == "device" || space == "constant"):
		p.Role = roleBuffer
	case p.Attr == "buffer" && p.Index >= 0 && ref && space == "constant":
		p.Role = roleBytes
	case p.Attr == "buffer":
		return p, fmt.Errorf("parameter %s [[buffer(%d)]] of type %q: want a device or constant pointer, or a constant reference", p.Name, p.Index, p.Type)
	case p.Attr == "threadgroup" && p.Index >= 0 && ptr && space == "threadgroup":
		p.Role = roleThreadgroupMem
	case p.Attr == "threadgroup":
		return p, fmt.Errorf("parameter %s [[threadgroup(%d)]] of type %q: want a threadgroup pointer", p.Name, p.Index, p.Type)
	case builtinAttrs[p.Attr] && !ptr && !ref:
		p.Role = roleBuiltin
	default:
		return p, fmt.Errorf("parameter %s: attribute [[%s]] is not one this backend binds", p.Name, p.Attr)
	}
	return p, nil
}

// bufferParams returns the kernel's [[buffer(i)]] parameters by index,
// and an error when the indices are not 0…n-1.
func (k mslKernel) bufferParams() ([]mslParam, error) {
	byIndex := map[int]mslParam{}
	for _, p := range k.Params {
		if p.Role == roleBuffer || p.Role == roleBytes {
			byIndex[p.Index] = p
		}
	}
	out := make([]mslParam, len(byIndex))
	for i := range out {
		p, ok := byIndex[i]
		if !ok {
			return nil, fmt.Errorf("kernel %s: its [[buffer]] indices are not 0…%d (%d is missing)", k.Name, len(out)-1, i)
		}
		out[i] = p
	}
	return out, nil
}

// threadgroupMem reports whether the kernel takes dynamic threadgroup
// memory, and at which index.
func (k mslKernel) threadgroupMem() (index int, ok bool) {
	for _, p := range k.Params {
		if p.Role == roleThreadgroupMem {
			return p.Index, true
		}
	}
	return 0, false
}

// scalarSizes are the sizes of the scalar types a kernel may take by
// value (composed kernels' constant int& and float& parameters).
var scalarSizes = map[string]int{"int": 4, "uint": 4, "float": 4}

// elemAlign is the alignment a pointer parameter's element type needs
// (1 when unknown: a struct or uchar).
func elemAlign(elem string) int {
	switch elem {
	case "float", "int", "uint", "float2", "int2", "uint2":
		return map[string]int{"float": 4, "int": 4, "uint": 4, "float2": 8, "int2": 8, "uint2": 8}[elem]
	case "half", "short", "ushort":
		return 2
	case "float4", "int4", "uint4":
		return 16
	case "half4", "ushort4":
		return 8
	}
	return 1
}
