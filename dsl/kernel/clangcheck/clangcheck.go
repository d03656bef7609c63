// Package clangcheck checks generated MSL and CUDA sources with clang on
// any host: Check parses each dialect as C++17 against a small shim header
// (shim/msl/metal_stdlib, shim/cuda/cuda_fp16.h) that declares the Metal
// and CUDA types, qualifiers and intrinsics generated kernels use, and
// HostCUDA lets tests compile and execute CUDA kernels on the CPU. The
// "msl-strict" dialect (shim/msl-strict/metal_stdlib) also checks Metal's
// address spaces; HostMSLLib executes MSL kernels on the host.
package clangcheck

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed shim
var shim embed.FS

// Clang returns the path of a clang++ (or clang) binary, or an error
// saying why there is none.
func Clang() (string, error) {
	for _, name := range []string{"clang++-14", "clang++", "clang-14", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("clang not found on PATH (scripts/setup.sh installs clang 14)")
}

// Source is one kernel source to check.
type Source struct {
	Name string
	Code string
}

// Check parses every source of one dialect ("msl", "msl-strict" or "cuda")
// with clang, all in one translation unit (each kernel in its own
// namespace). When the batch fails it checks each source alone and
// reports the failing ones by name with clang's messages.
func Check(dialect string, srcs []Source) error {
	clang, err := Clang()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "clangcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, p := range []string{"shim/msl/metal_stdlib", "shim/cuda/cuda_fp16.h", "shim/msl-strict/metal_stdlib"} {
		data, err := shim.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	inc := filepath.Join(dir, "shim", dialect)
	if dialect != "msl" && dialect != "cuda" && dialect != "msl-strict" {
		return fmt.Errorf("clangcheck: unknown dialect %q", dialect)
	}
	if err := run(clang, dir, inc, dialect, srcs); err == nil {
		return nil
	}
	var errs []error
	for _, s := range srcs {
		if err := run(clang, dir, inc, dialect, []Source{s}); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", s.Name, dialect, err))
		}
	}
	if len(errs) == 0 {
		return errors.New("clangcheck: the batch failed but every kernel passes alone (namespace clash?)")
	}
	return errors.Join(errs...)
}

func run(clang, dir, inc, dialect string, srcs []Source) error {
	header := "#include <metal_stdlib>\n"
	if dialect == "cuda" {
		header = "#include <cuda_fp16.h>\n"
	}
	var tu strings.Builder
	tu.WriteString(header)
	for i, s := range srcs {
		code := strings.Replace(s.Code, header, "", 1)
		code = strings.Replace(code, "using namespace metal;\n", "", 1)
		code = strings.ReplaceAll(code, "extern \"C\" ", "")
		if dialect == "msl-strict" {
			code = MSLAttributes(code)
		}
		fmt.Fprintf(&tu, "namespace k%d {\n", i)
		if dialect == "msl" || dialect == "msl-strict" {
			tu.WriteString("using namespace metal;\n")
		}
		tu.WriteString(code)
		tu.WriteString("}\n")
	}
	file := filepath.Join(dir, "tu.cpp")
	if err := os.WriteFile(file, []byte(tu.String()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(clang, "-x", "c++", "-std=c++17", "-fsyntax-only", "-Wno-unknown-attributes",
		"-Werror=return-type", "-Werror=uninitialized", "-ferror-limit=20", "-I", inc, file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// HostFlags are the clang arguments that compile a HostCUDA or HostMSL
// program cpp into the executable bin.
func HostFlags(bin, cpp string) []string {
	return []string{"-x", "c++", "-std=c++17", "-O1", "-Wno-unknown-attributes", "-o", bin, cpp}
}

// HostFlagsQuick is HostFlags without optimization: clang compiles large
// generated kernels several times faster, which is what dominates a test
// that runs them once on small inputs. The arithmetic is the same (no
// contraction into fused multiply-adds on the baseline x86-64 target at
// either level).
func HostFlagsQuick(bin, cpp string) []string {
	return []string{"-x", "c++", "-std=c++17", "-O0", "-Wno-unknown-attributes", "-o", bin, cpp}
}
