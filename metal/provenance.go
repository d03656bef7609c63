package metal

import (
	"fmt"
	"strings"
)

// Provenance is what a result computed on this backend depends on: the
// device, the OS, the shading language version and math mode the kernels
// are compiled with, and the execution mode. The harness prints it in
// headers and JSON objects.
type Provenance struct {
	Device          string   `json:"device"`       // e.g. "Apple M2 Pro"
	OS              string   `json:"os"`           // e.g. "Version 15.1 (Build 24B83)"
	Families        []string `json:"gpu_families"` // e.g. ["apple7", "apple8", "metal3"]
	UnifiedMemory   bool     `json:"unified_memory"`
	WorkingSetMiB   uint64   `json:"working_set_mib"` // recommendedMaxWorkingSetSize
	MaxBufferMiB    uint64   `json:"max_buffer_mib"`
	LanguageVersion string   `json:"language_version"` // MSL version of every kernel: "3.0"
	MathMode        string   `json:"math_mode"`        // "mathMode=safe" or "fastMathEnabled=NO": fast math off
	Numerics        string   `json:"numerics"`         // "plain"
	Pipelines       int      `json:"pipelines"`        // compiled in the process so far
	NoCopyRegions   int      `json:"no_copy_regions"`  // mappings wrapped in place (newBufferWithBytesNoCopy)
	CopiedWraps     int      `json:"copied_wraps"`     // wrapped buffers copied instead (Go memory, memory Metal would not wrap)
	SyncEachCommit  bool     `json:"sync"`             // METALLIC_METAL_SYNC=1
	Timeout         string   `json:"wait_timeout"`     // bound of every wait
}

// Provenance describes the device, compiler and modes of this backend.
func (b *Backend) Provenance() Provenance {
	in := b.dev.info
	return Provenance{
		Device:          in.name,
		OS:              in.os,
		Families:        in.families,
		UnifiedMemory:   in.unified,
		WorkingSetMiB:   in.workingSet >> 20,
		MaxBufferMiB:    uint64(in.maxBuffer) >> 20,
		LanguageVersion: b.dev.lang,
		MathMode:        b.dev.mathMode,
		Numerics:        string(b.Numerics()[0]),
		Pipelines:       b.dev.pipelines(),
		NoCopyRegions:   len(b.regions),
		CopiedWraps:     b.copied,
		SyncEachCommit:  b.cfg.sync,
		Timeout:         b.cfg.timeout.String(),
	}
}

// Describe is Provenance().String(), for callers that print a backend's
// provenance without importing this package: they check for
// interface{ Describe() string }.
func (b *Backend) Describe() string { return b.Provenance().String() }

// String is Provenance on one line, for table headers.
func (p Provenance) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "metal: %s (%s, %d MiB working set", p.Device, strings.Join(p.Families, " "), p.WorkingSetMiB)
	if p.UnifiedMemory {
		b.WriteString(", unified memory")
	}
	fmt.Fprintf(&b, "), macOS %s, MSL %s, %s, numerics %s", p.OS, p.LanguageVersion, p.MathMode, p.Numerics)
	if p.SyncEachCommit {
		b.WriteString(", sync after every dispatch")
	}
	return b.String()
}
