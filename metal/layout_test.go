package metal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/dsl/kernel/clangcheck"
	"github.com/metallic-go/metallic/internal/testenv"
)

// structFields reads the fields of struct name from MSL source: type and
// name in order.
func structFields(src, name string) ([][2]string, error) {
	m := regexp.MustCompile(`struct ` + name + `\s*\{([^}]*)\};`).FindStringSubmatch(src)
	if m == nil {
		return nil, fmt.Errorf("no struct %s", name)
	}
	var fs [][2]string
	for _, line := range strings.Split(m[1], ";") {
		w := strings.Fields(line)
		if len(w) == 0 {
			continue
		}
		if len(w) != 2 {
			return nil, fmt.Errorf("struct %s: field %q", name, line)
		}
		fs = append(fs, [2]string{w[0], w[1]})
	}
	return fs, nil
}

// TestArgStructLayouts checks, for every built-in op, that the argument
// struct its kernel declares is the op's scalar arguments in order (int
// for Int, float for Float) followed by uint al, and that clang lays it
// out where the backend packs it: field i at byte 4i, the struct
// 4·(scalars+1) bytes. The offsets come from clang compiling the structs
// as the kernel files declare them (offsetof and sizeof), not from this
// test's arithmetic.
func TestArgStructLayouts(t *testing.T) {
	clang, err := clangcheck.Clang()
	if err != nil {
		testenv.NeedOracle(t, err.Error())
	}
	// The argument structs exactly as the kernel files declare them, in a
	// host program (their fields are 4-byte int, float and uint: C++ and
	// MSL lay them out alike).
	var prog, decls strings.Builder
	prog.WriteString("#include <cstdio>\n#include <cstddef>\ntypedef unsigned int uint;\n")
	prog.WriteString("int main() {\n")
	for _, name := range builtinNames() {
		op := builtinOps[name]
		fs, err := structFields(builtinFile(op.file), op.args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		for _, c := range op.sig {
			switch c {
			case 'i':
				want = append(want, "int")
			case 'f':
				want = append(want, "float")
			}
		}
		want = append(want, "uint")
		var got []string
		for _, f := range fs {
			got = append(got, f[0])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") || fs[len(fs)-1][1] != "al" {
			t.Errorf("%s: %s is {%v}, the op's scalars are {%v} then uint al", name, op.args, fs, want)
		}
		decls.WriteString(regexp.MustCompile(`struct `+op.args+`\s*\{[^}]*\};`).FindString(builtinFile(op.file)) + "\n")
		fmt.Fprintf(&prog, "    std::printf(\"%s %%zu\", sizeof(%s));\n", op.args, op.args)
		for _, f := range fs {
			fmt.Fprintf(&prog, "    std::printf(\" %%zu\", offsetof(%s, %s));\n", op.args, f[1])
		}
		prog.WriteString("    std::printf(\"\\n\");\n")
	}
	prog.WriteString("    return 0;\n}\n")
	dir := t.TempDir()
	cpp, bin := filepath.Join(dir, "layout.cpp"), filepath.Join(dir, "layout")
	full := strings.Replace(prog.String(), "int main() {\n", decls.String()+"int main() {\n", 1)
	if err := os.WriteFile(cpp, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-x", "c++", "-std=c++17", "-o", bin, cpp).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, firstLinesOf(string(out), 30))
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		w := strings.Fields(line)
		size, _ := strconv.Atoi(w[1])
		nf := len(w) - 2
		if size != 4*nf {
			t.Errorf("%s: clang's sizeof %d, the backend packs %d bytes", w[0], size, 4*nf)
		}
		for i, o := range w[2:] {
			if off, _ := strconv.Atoi(o); off != 4*i {
				t.Errorf("%s: field %d at offset %d in clang's layout, %d in the backend's", w[0], i, off, 4*i)
			}
		}
	}
}

func firstLinesOf(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestResolvePacking checks the bytes the backend hands Metal for one
// dispatch of each layout: a built-in op's struct (ints, a float, al with
// each buffer's address modulo 16) and a composed kernel's separate
// scalars.
func TestResolvePacking(t *testing.T) {
	own := func(x backend.Buffer) (*buffer, error) { return x.(*buffer), nil }
	a := &buffer{size: 64, off: 0}
	r := &buffer{size: 4096, off: 2050} // a view of a region at byte 2050
	rope := argLayout{sig: "bbiiibfi", structIndex: 3, structSize: 24, align: []int{4, 4, 0, 0, 0, 4, 0, 0},
		params: []mslParam{{Name: "out"}, {Name: "x"}, {Name: "pos"}, {Name: "p"}}}
	binds, arena, err := rope.resolve(nil, nil, []backend.Arg{backend.BufAt(a, 12), backend.BufAt(r, 2), backend.Int(14), backend.Int(64),
		backend.Int(-64), backend.BufAt(a, 40), backend.Float(1e6), backend.Int(1)}, own)
	if err != nil {
		t.Fatal(err)
	}
	want := new(bytes.Buffer)
	for _, v := range []uint32{14, 64, uint32(0xffffffc0), math.Float32bits(1e6), 1, 12 | 4<<4 | 8<<8} {
		binary.Write(want, binary.LittleEndian, v)
	}
	if len(binds) != 4 || binds[0].index != 0 || binds[0].off != 12 || binds[1].index != 1 || binds[1].off != 2052 ||
		binds[2].index != 2 || binds[2].off != 40 || binds[3].index != 3 || !bytes.Equal(binds[3].bytes, want.Bytes()) || len(arena) != 24 {
		t.Errorf("rope bindings %+v, struct % x, want % x", binds, binds[3].bytes, want.Bytes())
	}
	comp := argLayout{sig: "bif", structIndex: -1, align: []int{4, 0, 0}, params: []mslParam{{Name: "y"}, {Name: "n"}, {Name: "s"}}}
	binds, _, err = comp.resolve(nil, nil, []backend.Arg{backend.Buf(a), backend.Int(7), backend.Float(0.5)}, own)
	if err != nil {
		t.Fatal(err)
	}
	if len(binds) != 3 || binds[1].index != 1 || !bytes.Equal(binds[1].bytes, []byte{7, 0, 0, 0}) || binds[2].index != 2 ||
		!bytes.Equal(binds[2].bytes, []byte{0, 0, 0, 0x3f}) {
		t.Errorf("composed bindings %+v", binds)
	}
}
