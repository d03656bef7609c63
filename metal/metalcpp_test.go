package metal

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// Apple's own declarations: testdata/metal-cpp holds the metal-cpp headers
// (Apple, Apache 2.0; macOS 26 SDK release) that declare every Metal and
// Foundation method the backend calls, with its selector string
// (MTLHeaderBridge.hpp, NSPrivate.hpp) and its C++ argument and result
// types. The tests below check the message table of msgs.go, the
// constants and MTLSize against them.

// cppHeaders reads every header of testdata/metal-cpp.
func cppHeaders(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "metal-cpp", "*", "*.hpp"))
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata/metal-cpp: %v (%d files)", err, len(files))
	}
	hs := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		hs[filepath.Base(f)] = string(b)
	}
	return hs
}

// cppSelectors maps metal-cpp's selector accessors to selector strings:
// _MTL_PRIVATE_DEF_SEL(setBuffer_offset_atIndex_, "setBuffer:offset:atIndex:").
func cppSelectors(hs map[string]string) map[string]string {
	re := regexp.MustCompile(`_(?:MTL|NS)_PRIVATE_DEF_SEL\(\s*(\w+)\s*,\s*"([^"]*)"\s*\)`)
	sels := map[string]string{}
	for _, h := range hs {
		for _, m := range re.FindAllStringSubmatch(h, -1) {
			sels[m[1]] = m[2]
		}
	}
	return sels
}

// cppEnums maps enum and option type names to their base type and their
// enumerators to values: _MTL_ENUM(NS::UInteger, CommandBufferStatus) {
// CommandBufferStatusCompleted = 4, …}.
func cppEnums(hs map[string]string) (bases map[string]string, values map[string]int64) {
	head := regexp.MustCompile(`_(?:MTL|NS)_(?:ENUM|OPTIONS)\(\s*([\w:]+)\s*,\s*(\w+)\s*\)\s*\{([^}]*)\}`)
	item := regexp.MustCompile(`(\w+)\s*=\s*(-?\d+)\s*,`)
	bases, values = map[string]string{}, map[string]int64{}
	for _, h := range hs {
		for _, m := range head.FindAllStringSubmatch(h, -1) {
			bases[m[2]] = strings.TrimPrefix(m[1], "NS::")
			for _, it := range item.FindAllStringSubmatch(m[3], -1) {
				v, _ := strconv.ParseInt(it[2], 10, 64)
				values[it[1]] = v
			}
		}
	}
	return bases, values
}

// cppMethod is one metal-cpp method that sends a message.
type cppMethod struct {
	class    string   // "MTL::ComputeCommandEncoder" (template arguments dropped)
	sel      string   // the selector accessor
	recv     string   // the receiver expression: "this", "_NS_PRIVATE_CLS(NSProcessInfo)", …
	ret      string   // sendMessage's result type
	argTypes []string // the C++ types of the message's arguments
	decl     string   // the function's head, for messages
}

// cppMethods finds, for every sendMessage call in the headers, the
// function it is in and the C++ types of the arguments it passes.
func cppMethods(t *testing.T, hs map[string]string) []cppMethod {
	t.Helper()
	call := regexp.MustCompile(`sendMessage(?:Safe)?<`)
	var out []cppMethod
	for name, h := range hs {
		for _, loc := range call.FindAllStringIndex(h, -1) {
			// The function around it: the last _MTL_INLINE/_NS_INLINE
			// before the call, up to its body.
			fs := max(strings.LastIndex(h[:loc[0]], "_MTL_INLINE "), strings.LastIndex(h[:loc[0]], "_NS_INLINE "))
			if fs < 0 {
				continue
			}
			head := h[fs : strings.Index(h[fs:], "{")+fs]
			if strings.Contains(head, "sendMessage") { // the helper's own definition
				continue
			}
			ret, rest, ok := cutTemplate(h[loc[1]-1:])
			if !ok {
				t.Fatalf("%s: unbalanced sendMessage<…> at %d", name, loc[0])
			}
			args, ok := balancedParens(rest)
			if !ok {
				t.Fatalf("%s: unbalanced sendMessage(…) at %d", name, loc[0])
			}
			parts := splitTop(args)
			if len(parts) < 2 {
				continue
			}
			accessor := regexp.MustCompile(`_PRIVATE_SEL\(\s*(\w+)\s*\)`).FindStringSubmatch(parts[1])
			if accessor == nil {
				continue // a selector passed through (sendMessageSafe's own body)
			}
			open := strings.Index(head, "(")
			params, _ := balancedParens(head[open:])
			qual := regexp.MustCompile(`<[^<>]*>`).ReplaceAllString(strings.TrimSpace(head[:open]), "")
			qual = qual[strings.LastIndex(qual, " ")+1:]
			m := cppMethod{class: qual[:strings.LastIndex(qual, "::")], sel: accessor[1], recv: strings.TrimSpace(parts[0]),
				ret: strings.TrimSpace(ret), decl: strings.TrimSpace(head)}
			types := map[string]string{}
			for _, p := range splitTop(params) {
				p = strings.TrimSpace(p)
				if strings.Contains(p, "(^") { // a block: void (^name)(…)
					n := regexp.MustCompile(`\(\^\s*(\w+)\)`).FindStringSubmatch(p)
					types[n[1]] = "block"
					continue
				}
				i := strings.LastIndexAny(p, " *&")
				types[strings.TrimSpace(p[i+1:])] = strings.TrimSpace(p[:i+1])
			}
			for _, a := range parts[2:] {
				a = strings.TrimSpace(a)
				ty, ok := types[a]
				if !ok {
					ty = "?" + a
				}
				m.argTypes = append(m.argTypes, ty)
			}
			out = append(out, m)
		}
	}
	return out
}

// cutTemplate returns the text between s's leading '<' and its matching
// '>', and the rest.
func cutTemplate(s string) (inside, rest string, ok bool) {
	depth := 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// cppKind classifies a C++ type as the arm64 ABI passes it.
func cppKind(ty string, enums map[string]string) (abiKind, bool) {
	ty = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(ty), "const "))
	switch {
	case ty == "block", ty == "SEL", strings.HasSuffix(ty, "**"), ty == "void*", ty == "char*", ty == "const char*":
		return kPtr, true
	case strings.HasSuffix(ty, "*"), ty == "ErrorDomain", ty == "NS::ErrorDomain":
		return kID, true
	case ty == "void":
		return kVoid, true
	case ty == "bool":
		return kBool, true
	case ty == "NS::UInteger", ty == "UInteger", ty == "uint64_t":
		return kUInt, true
	case ty == "NS::Integer", ty == "Integer":
		return kInt, true
	case ty == "MTL::Size":
		return kSize, true
	case ty == "CFTimeInterval":
		return kDouble, true
	}
	name := ty[strings.LastIndex(ty, ":")+1:]
	switch enums[name] {
	case "UInteger":
		return kUInt, true
	case "Integer":
		return kInt, true
	}
	return 0, false
}

// TestMessagesMatchMetalCpp checks every message the backend sends against
// Apple's declaration: the selector string, the class declaring the
// method, the argument kinds in order, the result kind, and whether the
// receiver is a class object.
func TestMessagesMatchMetalCpp(t *testing.T) {
	hs := cppHeaders(t)
	sels := cppSelectors(hs)
	enums, _ := cppEnums(hs)
	methods := cppMethods(t, hs)
	if len(sels) < 1000 || len(methods) < 400 {
		t.Fatalf("parsed %d selectors and %d methods: the headers changed shape", len(sels), len(methods))
	}
	for _, m := range messages {
		t.Run(m.sel, func(t *testing.T) {
			var found []cppMethod
			for _, c := range methods {
				if sels[c.sel] == m.sel && c.class == m.class {
					found = append(found, c)
				}
			}
			if len(found) == 0 {
				t.Fatalf("no method of %s sends %q in metal-cpp", m.class, m.sel)
			}
			for _, c := range found {
				var args []abiKind
				for _, ty := range c.argTypes {
					k, ok := cppKind(ty, enums)
					if !ok {
						t.Fatalf("%s: argument type %q not classified", c.decl, ty)
					}
					args = append(args, k)
				}
				ret, ok := cppKind(c.ret, enums)
				if !ok {
					t.Fatalf("%s: result type %q not classified", c.decl, c.ret)
				}
				classRecv := strings.Contains(c.recv, "_PRIVATE_CLS") || c.recv == "pClass" || strings.HasPrefix(c.recv, "objc_lookUpClass")
				if !equalKinds(args, m.args) || ret != m.ret || classRecv != m.classMethod {
					t.Errorf("%s sends %q with %v → %v (class receiver %v); the table says %v → %v (class method %v)",
						c.decl, m.sel, args, ret, classRecv, m.args, m.ret, m.classMethod)
				}
			}
		})
	}
	// The classes looked up by name and the C entry point exist.
	all := strings.Join(mapValues(hs), "\n")
	for _, c := range []string{"_NS_PRIVATE_DEF_CLS(NSString)", "_MTL_PRIVATE_DEF_CLS(MTLCompileOptions)", "_NS_PRIVATE_DEF_CLS(NSProcessInfo)",
		`extern "C" MTL::Device* MTLCreateSystemDefaultDevice();`} {
		if !strings.Contains(all, c) {
			t.Errorf("metal-cpp declares no %s", c)
		}
	}
}

func equalKinds(a, b []abiKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mapValues(m map[string]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	return v
}

// TestConstantsMatchMetalCpp checks the Metal constants the backend uses.
func TestConstantsMatchMetalCpp(t *testing.T) {
	_, values := cppEnums(cppHeaders(t))
	for name, got := range map[string]int64{
		"CommandBufferStatusNotEnqueued": statusNotEnqueued, "CommandBufferStatusEnqueued": statusEnqueued,
		"CommandBufferStatusCommitted": statusCommitted, "CommandBufferStatusScheduled": statusScheduled,
		"CommandBufferStatusCompleted": statusCompleted, "CommandBufferStatusError": statusError,
		"LanguageVersion3_0": languageVersion3_0, "MathModeSafe": mathModeSafe, "GPUFamilyApple7": gpuFamilyApple7,
		"ResourceStorageModeShared": resourceStorageModeShared, "UTF8StringEncoding": nsUTF8,
		"GPUFamilyApple8": 1008, "GPUFamilyApple9": 1009, "GPUFamilyApple10": 1010, "GPUFamilyMetal3": 5001, "GPUFamilyMetal4": 5002,
	} {
		if want, ok := values[name]; !ok || want != got {
			t.Errorf("%s = %d here, %d (found %v) in metal-cpp", name, got, want, ok)
		}
	}
	for _, f := range gpuFamilies {
		name := "GPUFamily" + strings.ToUpper(f.name[:1]) + f.name[1:]
		if values[name] != int64(f.v) {
			t.Errorf("%s = %d here, %d in metal-cpp", name, f.v, values[name])
		}
	}
}

// TestMTLSizeLayout checks the Go MTLSize against metal-cpp's MTL::Size
// (three NS::UInteger, 64-bit on arm64): 24 bytes, width, height, depth.
func TestMTLSizeLayout(t *testing.T) {
	hs := cppHeaders(t)
	m := regexp.MustCompile(`struct Size\s*\{[^}]*?NS::UInteger width;\s*NS::UInteger height;\s*NS::UInteger depth;\s*\}`).FindString(hs["MTLTypes.hpp"])
	if m == "" {
		t.Fatal("MTLTypes.hpp: no struct Size { NS::UInteger width; height; depth; }")
	}
	if !strings.Contains(hs["NSTypes.hpp"], "using UInteger = std::uintptr_t;") {
		t.Error("NSTypes.hpp: NS::UInteger is not uintptr_t")
	}
	var s mtlSize
	if unsafe.Sizeof(s) != 24 || unsafe.Offsetof(s.Height) != 8 || unsafe.Offsetof(s.Depth) != 16 || unsafe.Sizeof(s.Width) != 8 {
		t.Errorf("mtlSize: %d bytes, height at %d, depth at %d", unsafe.Sizeof(s), unsafe.Offsetof(s.Height), unsafe.Offsetof(s.Depth))
	}
}

// TestMessagesAllSent checks the table holds no message the backend never
// sends: each msg constant is used outside msgs.go in the package's code.
func TestMessagesAllSent(t *testing.T) {
	src, err := os.ReadFile("msgs.go")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^\t(msg[A-Z]\w*)(?: msgID = iota)?$`).FindAllStringSubmatch(string(src), -1)
	if len(names) != int(numMsgs) {
		t.Fatalf("found %d msg constants, the table has %d", len(names), numMsgs)
	}
	files, _ := filepath.Glob("*.go")
	var code strings.Builder
	for _, f := range files {
		if f == "msgs.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(b)
	}
	for _, n := range names {
		if !regexp.MustCompile(`\b` + n[1] + `\b`).MatchString(code.String()) {
			t.Errorf("%s is in the table but never sent", n[1])
		}
	}
}
