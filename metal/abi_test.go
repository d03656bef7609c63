package metal

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// dispatchThreadgroups:threadsPerThreadgroup: takes two MTLSize by value.
// MTLSize is 24 bytes of integers: not a homogeneous floating-point
// aggregate and larger than 16 bytes, so the arm64 procedure call
// standard (AAPCS64 §B.4, which Apple's arm64 ABI follows here) passes
// each by reference to a copy the caller makes, in the next integer
// registers: x2 and x3 after self and _cmd. objc_msgSend forwards the
// registers untouched to the method. The tests below check that rule
// against clang's own arm64-apple-macos code generation, purego's arm64
// rule against its source, and the Go declaration against a C callee on
// this host through purego.

// TestMTLSizeByReferenceOnArm64 compiles a method taking two MTLSize with
// clang for arm64-apple-macos and checks it reads them through x2 and x3.
func TestMTLSizeByReferenceOnArm64(t *testing.T) {
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "abi.c")
	code := `typedef struct { unsigned long width, height, depth; } MTLSize;
unsigned long method(void *self, void *cmd, MTLSize grid, MTLSize group) {
    return grid.width * 3 + grid.height * 5 + grid.depth * 7 + group.width * 11 + group.height * 13 + group.depth * 17;
}
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(clang, "--target=arm64-apple-macos13", "-x", "c", "-O1", "-S", "-o", "-", src).CombinedOutput()
	if err != nil {
		testenv.NeedOracle(t, "clang cannot generate arm64-apple-macos code: "+err.Error()+"\n"+string(out))
	}
	asm := string(out)
	for _, want := range []string{`\[x2\]`, `\[x2, #16\]`, `\[x3\]`, `\[x3, #16\]`} {
		if !regexp.MustCompile(want).MatchString(asm) {
			t.Errorf("the method does not read %s: MTLSize is not passed by reference in x2/x3:\n%s", want, asm)
		}
	}
	if regexp.MustCompile(`\bx[4-7]\b`).MatchString(asm) {
		t.Errorf("the method reads x4–x7: MTLSize is passed in registers:\n%s", asm)
	}
}

// TestPuregoArm64StructRule reads purego's arm64 struct marshalling (the
// version go.mod pins) and checks it passes a struct larger than 16 bytes
// that is neither an HFA nor an HVA as AAPCS64 says: by a pointer to a
// copy, in the next integer register. It cannot run here (this is not
// arm64); a purego upgrade that changes the rule fails this test.
func TestPuregoArm64StructRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ebitengine/purego").Output()
	if err != nil {
		t.Skipf("go list cannot locate purego: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "struct_arm64.go"))
	if err != nil {
		t.Fatalf("purego's struct_arm64.go: %v", err)
	}
	s := string(src)
	for _, want := range []string{
		// Registers only for HVAs, HFAs and structs of at most 16 bytes …
		"if hva, hfa, size := isHVA(v.Type()), isHFA(v.Type()), v.Type().Size(); hva || hfa || size <= 16 {",
		// … anything else is copied and its address passed as an integer.
		"keepAlive = placeStack(v, keepAlive, addInt)",
		"ptrStruct := reflect.New(v.Type())",
		"addInt(uintptr(ptr))",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("purego's struct_arm64.go no longer contains %q: review how it passes MTLSize", want)
		}
	}
}
