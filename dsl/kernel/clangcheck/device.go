package clangcheck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckCUDADevice checks CUDA sources as device code for an NVIDIA GPU with
// clang's own CUDA support (-x cuda --cuda-device-only
// --cuda-gpu-arch=sm_80 -nocudainc -nocudalib) against a device shim
// header (shim/cudadev/cuda_fp16.h). Unlike Check's parse as plain C++ it
// applies CUDA's rules — what device code may call, __shared__ and
// __global__ restrictions, execution spaces — without the CUDA toolkit.
// Sources are checked together, each in its own namespace; when the batch
// fails each is checked alone and the failing ones are reported by name.
func CheckCUDADevice(srcs []Source) error { return device(srcs, false) }

// CompileCUDADevice is CheckCUDADevice that also runs clang's device code
// generator to PTX (slower): what the NVPTX back end rejects fails too.
func CompileCUDADevice(srcs []Source) error { return device(srcs, true) }

func device(srcs []Source, ptx bool) error {
	clang, err := Clang()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "clangcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data, err := shim.ReadFile("shim/cudadev/cuda_fp16.h")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cuda_fp16.h"), data, 0o644); err != nil {
		return err
	}
	if err := runDevice(clang, dir, srcs, ptx); err == nil {
		return nil
	}
	var errs []error
	for _, s := range srcs {
		if err := runDevice(clang, dir, []Source{s}, ptx); err != nil {
			errs = append(errs, fmt.Errorf("%s (cuda device): %w", s.Name, err))
		}
	}
	if len(errs) == 0 {
		return errors.New("clangcheck: the device batch failed but every kernel passes alone (namespace clash?)")
	}
	return errors.Join(errs...)
}

func runDevice(clang, dir string, srcs []Source, ptx bool) error {
	const header = "#include <cuda_fp16.h>\n"
	var tu strings.Builder
	tu.WriteString(header)
	for i, s := range srcs {
		code := strings.Replace(s.Code, header, "", 1)
		code = strings.ReplaceAll(code, "extern \"C\" ", "")
		fmt.Fprintf(&tu, "namespace k%d {\n%s}\n", i, code)
	}
	file := filepath.Join(dir, "tu.cu")
	if err := os.WriteFile(file, []byte(tu.String()), 0o644); err != nil {
		return err
	}
	args := []string{"-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_80", "-nocudainc", "-nocudalib", "-std=c++17",
		"-Werror=return-type", "-Werror=uninitialized", "-Wno-unknown-cuda-version", "-ferror-limit=20", "-I", dir}
	if ptx {
		args = append(args, "-O1", "-S", "-o", filepath.Join(dir, "tu.ptx"))
	} else {
		args = append(args, "-fsyntax-only")
	}
	cmd := exec.Command(clang, append(args, file)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}
