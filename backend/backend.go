package backend

import (
	"fmt"
	"unsafe"

	"github.com/metallic-go/metallic/gguf"
)

// Backend runs kernels over device buffers. Implementations (cpu, metal,
// cuda) are not safe for concurrent use: one goroutine drives a Backend.
//
// Ordering: dispatches recorded in one Encoder run in order, each seeing the
// writes of the ones before it. Committed encoders run in commit order.
// Upload, Download and Sync wait for every committed encoder first, so a
// Download after Commit always sees the results.
type Backend interface {
	// Name is the registry name: "cpu", "metal", "cuda".
	Name() string
	// Numerics lists the profiles whose built-in ops the backend
	// implements (numerics.go); Load refuses a built-in op of any other.
	Numerics() []Numerics

	// Alloc returns a zero-filled device buffer of n bytes.
	Alloc(n int) (Buffer, error)
	// Wrap returns a read-only buffer over host memory, such as a mapped
	// weight tensor. The cpu backend aliases data without copying; GPU
	// backends may copy it (or map it when the memory allows). data must
	// stay valid and unchanged while the buffer is in use.
	Wrap(data []byte) (Buffer, error)
	// Upload copies src into dst starting at byte offset off.
	Upload(dst Buffer, off int, src []byte) error
	// Download copies len(dst) bytes of src starting at byte offset off
	// into dst.
	Download(dst []byte, src Buffer, off int) error
	// Free releases a buffer; using it afterwards is an error. Freeing a
	// wrapped buffer never frees the host memory.
	Free(b Buffer)

	// Load prepares a kernel: a built-in op when spec has no sources and no
	// CPU function (see Op*), else the composed kernel the spec carries.
	// It returns an error when the backend cannot run the spec (for
	// example a weight dtype a built-in op does not support).
	Load(spec KernelSpec) (Kernel, error)

	// Begin starts recording a command batch (one per forward call is the
	// intended use). Dispatch errors are reported by Commit.
	Begin() Encoder
	// Sync waits until every committed encoder has finished and returns the
	// first error any of them met.
	Sync() error
	// Close releases the backend. Buffers and kernels die with it.
	Close() error
}

// Encoder records dispatches into one command batch.
type Encoder interface {
	// Dispatch records kernel k over grid g with args. A backend may run it
	// at once (cpu) or at Commit (GPU); either way the effects are visible
	// to the next dispatch of the same encoder.
	Dispatch(k Kernel, g Grid, args ...Arg)
	// Commit submits the batch without waiting for it and returns the first
	// error met while recording (or, on the cpu, while running). The
	// encoder must not be used after Commit.
	Commit() error
}

// Buffer is device memory owned by a Backend.
type Buffer interface {
	// Size is the buffer's length in bytes.
	Size() int
}

// HostBuffer is a Buffer whose bytes the CPU can address directly (every
// cpu buffer; shared-storage Metal buffers). CPU kernel functions reach
// their arguments through it.
type HostBuffer interface {
	Buffer
	// Bytes is the buffer's memory. It aliases the buffer.
	Bytes() []byte
}

// Kernel is a loaded kernel, usable with the Backend that loaded it.
type Kernel interface {
	// Name is KernelSpec.Name.
	Name() string
}

// Grid is the number of work items of a dispatch in up to three
// dimensions (zero dimensions count as 1). A work item is the unit one
// CPU call or one GPU threadgroup computes entirely: an output element is
// never split across work items, which is what makes results independent
// of the number of threads.
type Grid struct{ X, Y, Z int }

// Items is X·Y·Z with zero dimensions counted as 1.
func (g Grid) Items() int { return max(g.X, 1) * max(g.Y, 1) * max(g.Z, 1) }

// Item returns the (x, y, z) of flattened item index i, x fastest.
func (g Grid) Item(i int) (x, y, z int) {
	gx, gy := max(g.X, 1), max(g.Y, 1)
	return i % gx, (i / gx) % gy, i / (gx * gy)
}

// DType is the storage type of activations and of the KV cache.
type DType uint8

const (
	// F32 stores float32 (4 bytes).
	F32 DType = iota
	// F16 stores IEEE half (2 bytes), rounded to nearest even; kernels
	// widen to float32 to compute.
	F16
)

// Size is the element size in bytes.
func (d DType) Size() int {
	if d == F16 {
		return 2
	}
	return 4
}

// String returns "f32" or "f16".
func (d DType) String() string {
	if d == F16 {
		return "f16"
	}
	return "f32"
}

// ParseDType parses "f32" or "f16" ("" means f32).
func ParseDType(s string) (DType, error) {
	switch s {
	case "", "f32", "F32":
		return F32, nil
	case "f16", "F16":
		return F16, nil
	}
	return 0, fmt.Errorf("backend: unknown activation dtype %q (want f32 or f16)", s)
}

// KernelSpec describes a kernel to Load.
//
// A built-in op (Name one of the Op* constants, no MSL, CUDA or CPU) is
// specialized by Weight, In and Out. A composed kernel (from dsl) carries
// its own sources and CPU implementation; a backend uses the one it can run
// (cpu: CPU; metal: MSL; cuda: CUDA) and fails Load when it is missing.
type KernelSpec struct {
	Name   string    // built-in op name, or a unique name for a composed kernel
	Weight gguf.Type // dtype of the weight argument of built-in ops (F32 when zero)
	// Numerics is the profile a built-in op computes under ("" means
	// Plain). A backend that does not implement it fails Load; it never
	// falls back. Composed kernels carry their arithmetic in their sources.
	Numerics Numerics
	In       DType // storage dtype of activation inputs
	Out      DType // storage dtype of activation outputs
	// KV is the storage dtype of OpAttention's K and V caches (F32 when
	// zero); OpCopy writes the caches with Out = KV.
	KV DType
	// Flash selects ggml's flash-attention kernel for OpAttention under
	// GGMLCPU (ops.go); the zero value is its non-flash attention.
	Flash FlashAttn

	MSL     string // Metal Shading Language source (composed kernels)
	CUDA    string // CUDA C source (composed kernels)
	Entry   string // entry function of MSL/CUDA
	Threads int    // threads per threadgroup/block for MSL/CUDA; one work item = one threadgroup
	// SharedBytes is the dynamic threadgroup (Metal) or shared (CUDA)
	// memory per threadgroup; 0 when the source sizes its arrays itself.
	SharedBytes int
	CPU         CPUFunc // CPU implementation (composed kernels)
	// Grain is the minimum number of work items per CPU task (0: 1).
	// Larger grains amortize scheduling for cheap items.
	Grain int
}

// CPUFunc computes work items [Lo, Hi) of a dispatch. It may be called
// concurrently for disjoint ranges; it must compute each item entirely and
// write only that item's outputs, so results do not depend on the split.
type CPUFunc func(c CPUCall)

// CPUCall is one call of a CPUFunc.
type CPUCall struct {
	Args   []Arg
	Grid   Grid
	Lo, Hi int // flattened item range, see Grid.Item
}

// ArgKind says what an Arg holds.
type ArgKind uint8

const (
	// ArgBuffer is a buffer binding at a byte offset.
	ArgBuffer ArgKind = iota
	// ArgInt is a scalar integer (int32 on GPUs).
	ArgInt
	// ArgFloat is a scalar float32.
	ArgFloat
)

// Arg is one kernel argument. GPU backends bind buffers and scalars in
// argument order (scalars as 4-byte values).
type Arg struct {
	Kind ArgKind
	Buf  Buffer
	Off  int // byte offset into Buf
	I    int
	F    float32
}

// Buf returns a buffer argument starting at byte 0.
func Buf(b Buffer) Arg { return Arg{Kind: ArgBuffer, Buf: b} }

// BufAt returns a buffer argument starting at byte offset off.
func BufAt(b Buffer, off int) Arg { return Arg{Kind: ArgBuffer, Buf: b, Off: off} }

// Int returns an integer argument.
func Int(v int) Arg { return Arg{Kind: ArgInt, I: v} }

// Float returns a float32 argument.
func Float(v float32) Arg { return Arg{Kind: ArgFloat, F: v} }

// Bytes returns the host bytes of a buffer argument from its offset. It
// panics when the buffer is not a HostBuffer (CPU kernels only).
func (a Arg) Bytes() []byte {
	return a.Buf.(HostBuffer).Bytes()[a.Off:]
}

// F32 views a buffer argument as float32s from its offset (aliasing).
func (a Arg) F32() []float32 {
	b := a.Bytes()
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// U16 views a buffer argument as uint16s (f16 storage) from its offset.
func (a Arg) U16() []uint16 {
	b := a.Bytes()
	if len(b) < 2 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// Pos reads the int32 position a Pos argument points to (CPU kernels
// only; see OpRope).
func (a Arg) Pos() int { return int(a.I32()[0]) }

// I32 views a buffer argument as int32s from its offset.
func (a Arg) I32() []int32 {
	b := a.Bytes()
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}
