package metal

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnavailable is the errors.Is target of every error that says the
// backend cannot run on this machine: another platform ("metal: needs
// macOS on Apple silicon, this is linux/amd64"), no Metal device, a GPU
// that is not an Apple GPU, a macOS too old for the kernels.
var ErrUnavailable = errors.New("metal: unavailable")

// unavailableError says why the backend cannot be opened.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// unavailable returns an ErrUnavailable error "metal: unavailable: cause".
func unavailable(format string, args ...any) error {
	return &unavailableError{msg: "metal: unavailable: " + strings.TrimPrefix(fmt.Sprintf(format, args...), "metal: ")}
}

// needsAppleSilicon is the error of every platform but darwin/arm64.
func needsAppleSilicon(goos, goarch string) error {
	return &unavailableError{msg: fmt.Sprintf("metal: needs macOS on Apple silicon, this is %s/%s", goos, goarch)}
}

// CompileError is a kernel Metal could not compile or turn into a
// pipeline: the kernel, the step that failed, and the compiler's log in
// full (newLibraryWithSource's NSError carries it).
type CompileError struct {
	Kernel string // the kernel's label, e.g. "matmul[Q4_K f32→f32 kv f32]"
	Entry  string // the kernel function
	Step   string // "newLibraryWithSource", "newFunctionWithName", "newComputePipelineState"
	Log    string // the compiler's or Metal's message
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("metal: kernel %s (entry %s): %s failed:\n%s", e.Kernel, e.Entry, e.Step, strings.TrimRight(e.Log, "\n"))
}

// GPUError is a command buffer that ended in error: its status, Metal's
// error, and the dispatches it held.
type GPUError struct {
	Status  int    // MTLCommandBufferStatus (5: error)
	Text    string // the NSError's description, domain and code
	Kernels string // the dispatches of the command buffer
}

func (e *GPUError) Error() string {
	return fmt.Sprintf("metal: a command buffer failed (status %d): %s; %s", e.Status, e.Text, e.Kernels)
}

// isUnavailable reports whether err says the backend cannot run here.
func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
