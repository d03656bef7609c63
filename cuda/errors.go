package cuda

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnavailable is the errors.Is target of every error that says the
// backend cannot run on this machine (no driver library, no device, cuInit
// failing, no NVRTC, another platform). Its text starts "cuda: unavailable:".
var ErrUnavailable = errors.New("cuda: unavailable")

// unavailableError says why the backend cannot be opened.
type unavailableError struct{ cause string }

func (e *unavailableError) Error() string { return "cuda: unavailable: " + e.cause }

func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// unavailable returns an ErrUnavailable error naming the cause.
func unavailable(format string, args ...any) error {
	return &unavailableError{cause: strings.TrimPrefix(fmt.Sprintf(format, args...), "cuda: ")}
}

// Error is a failed driver call: the call, the CUresult with its name and
// description from the driver, and the kernel involved where known.
type Error struct {
	Call   string // driver function, e.g. "cuLaunchKernel"
	Code   int    // CUresult
	Name   string // cuGetErrorName, e.g. "CUDA_ERROR_ILLEGAL_ADDRESS"
	Text   string // cuGetErrorString, e.g. "an illegal memory access was encountered"
	Kernel string // the kernel launched or running, "" when unknown
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cuda: ")
	if e.Kernel != "" {
		fmt.Fprintf(&b, "kernel %s: ", e.Kernel)
	}
	name := e.Name
	if name == "" {
		name = fmt.Sprintf("CUresult %d", e.Code)
	}
	fmt.Fprintf(&b, "%s: %s", e.Call, name)
	if e.Text != "" {
		fmt.Fprintf(&b, " (%s)", e.Text)
	}
	return b.String()
}

// Driver results the backend reacts to.
const (
	resultSuccess     = 0
	resultInvalidVal  = 1
	resultOutOfMemory = 2
	resultNotReady    = 600
)

// withKernel returns err with the kernel named when it is a driver error
// that names none yet.
func withKernel(err error, kernel string) error {
	var de *Error
	if errors.As(err, &de) && de.Kernel == "" {
		c := *de
		c.Kernel = kernel
		return &c
	}
	return err
}

// nvrtcError is a failed NVRTC call.
type nvrtcError struct {
	Call string
	Code int
	Text string // nvrtcGetErrorString
}

func (e *nvrtcError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%s: nvrtcResult %d", e.Call, e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Call, e.Text)
}

// NVRTC results the backend reacts to.
const (
	nvrtcInvalidOption = 5
	nvrtcCompilation   = 6
)
