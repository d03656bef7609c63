package repro

import (
	"github.com/metallic-go/metallic/parity"
)

// Manifest is repro.json: everything a runner needs, for people and
// tools (the runners themselves read the generated repro_data.h).
type Manifest struct {
	Version    int    `json:"version"`
	Model      string `json:"model"`
	Path       string `json:"path"`
	Backend    string `json:"backend"`
	Provenance string `json:"provenance"` // the backend's line (device, compiler, options)
	Numerics   string `json:"numerics"`
	Act        string `json:"act"` // activation storage
	KV         string `json:"kv"`
	FlashAttn  bool   `json:"flash_attn"`
	// Spec is the dsl path's --spec file as given ("" for the embedded
	// spec of the architecture).
	Spec       string `json:"spec,omitempty"`
	Unfuse     bool   `json:"unfuse"`
	Checkpoint string `json:"checkpoint"`
	Op         string `json:"op"`
	// Stage and Of are set for a stage checkpoint of an unfused kernel.
	Stage string `json:"stage,omitempty"`
	Of    string `json:"of,omitempty"`
	// Tokens are the run's tokens (prompt, then the greedy decode steps);
	// PromptLen of them were prefilled in the first call.
	Tokens    []int32    `json:"tokens"`
	PromptLen int        `json:"prompt_len"`
	Perturb   []perturb  `json:"perturb"` // applied to the checkpoint's values, in order
	Kernels   []Kernel   `json:"kernels"`
	Calls     []Call     `json:"calls"`
	Output    Output     `json:"output"`
	Table     parity.Row `json:"table"` // the step table's local row
	// Compare is the dtype the row's max_ulp is counted in.
	Compare  string            `json:"compare_dtype"`
	Files    map[string]string `json:"files"` // role → file
	Runners  []string          `json:"runners"`
	Compile  Compile           `json:"compile"`
	Unusable map[string]string `json:"unusable,omitempty"` // runner → why it is not written
}

// Kernel is one kernel the calls run (a projection's prefill call may run
// its tiled form, the decode calls its GEMV form).
type Kernel struct {
	Name     string `json:"name"`
	Builtin  bool   `json:"builtin"` // a built-in op (hand-written kernels), else a composed one
	Op       string `json:"op,omitempty"`
	CUDA     string `json:"cuda,omitempty"`  // file
	MSL      string `json:"metal,omitempty"` // file
	CUDAName string `json:"cuda_entry,omitempty"`
	MSLName  string `json:"metal_entry,omitempty"`
	// Stages are a composed kernel's stages, in order.
	Stages []string `json:"stages,omitempty"`
	// Args is the argument table (name, kind, element type, output) of a
	// composed kernel; a built-in op's arguments are in backend/ops.go.
	Args []ArgInfo `json:"args,omitempty"`
}

// ArgInfo is one row of a composed kernel's argument table.
type ArgInfo struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Kind   string `json:"kind"` // buffer, int, float
	Elem   string `json:"elem,omitempty"`
	Output bool   `json:"output,omitempty"`
}

// Call is one forward call's dispatch.
type Call struct {
	Pos    int       `json:"pos"`  // position of the call's first token
	Rows   int       `json:"rows"` // its tokens
	Kernel int       `json:"kernel"`
	Grid   [3]int    `json:"grid"` // work items (threadgroups / blocks) the path dispatched
	Bufs   []Buffer  `json:"buffers"`
	Args   []Arg     `json:"args"`
	Out    OutRegion `json:"out"`
	CUDA   *Launch   `json:"cuda,omitempty"`
	MSL    *Launch   `json:"metal,omitempty"`
	// Binds are the Metal bindings ([[buffer(i)]] → a buffer at an
	// offset, or bytes set with setBytes).
	Binds []Bind `json:"metal_binds,omitempty"`
}

// Buffer is one buffer of a call: its contents just before the dispatch.
type Buffer struct {
	File     string `json:"file"`
	Size     int    `json:"size"`
	ReadOnly bool   `json:"read_only"` // a wrapped weight
}

// Arg is one kernel argument: a buffer at a byte offset, an int or a
// float (Hex is its exact value).
type Arg struct {
	Kind   string  `json:"kind"`
	Buffer int     `json:"buffer,omitempty"`
	Offset int     `json:"offset,omitempty"`
	Int    int     `json:"int,omitempty"`
	Float  float32 `json:"float,omitempty"`
	Hex    string  `json:"hex,omitempty"`
	Name   string  `json:"name,omitempty"`
}

// OutRegion is where a call's output rows are: Count elements of storage
// Elem in buffer Buffer from byte Offset.
type OutRegion struct {
	Buffer int    `json:"buffer"`
	Offset int    `json:"offset"`
	Count  int    `json:"count"`
	Elem   string `json:"elem"`
}

// Launch is a dispatch's launch in one dialect: the grid of threadgroups
// (blocks), the threads of each, the dynamic threadgroup (shared) memory.
type Launch struct {
	Grid    [3]int `json:"grid"`
	Threads [3]int `json:"threads"`
	Shared  int    `json:"shared"`
}

// Bind is one Metal binding.
type Bind struct {
	Index  int    `json:"index"`
	Buffer int    `json:"buffer"` // -1: Bytes
	Offset int    `json:"offset,omitempty"`
	Bytes  []byte `json:"bytes,omitempty"`
}

// Output describes the checkpoint's values: every call's rows, Cols
// each, stored in Elem.
type Output struct {
	Rows int    `json:"rows"`
	Cols int    `json:"cols"`
	Elem string `json:"elem"`
}

// Compile records how each dialect is compiled.
type Compile struct {
	NVRTC []string `json:"nvrtc"` // the cuda backend's NVRTC options
	NVCC  []string `json:"nvcc"`  // their nvcc spelling (the CUDA runner)
	Metal string   `json:"metal"` // the metal backend's compile options
	Host  []string `json:"host"`  // clang flags of the host runners
}
