package cuda

import (
	"fmt"
	"strings"
)

// Provenance is what a result computed on this backend depends on: the
// device, the driver and compiler versions, the compile options and the
// execution mode. The harness prints it in headers and JSON objects.
type Provenance struct {
	Device            string   `json:"device"`             // e.g. "NVIDIA H100 80GB HBM3"
	ComputeCapability string   `json:"compute_capability"` // e.g. "9.0"
	SMs               int      `json:"sms"`
	MemoryMiB         uint64   `json:"memory_mib"`
	Driver            string   `json:"driver"`       // CUDA version the driver supports, e.g. "13.0"
	NVRTC             string   `json:"nvrtc"`        // NVRTC version, e.g. "13.0"
	NVRTCPath         string   `json:"nvrtc_path"`   // the library loaded
	Options           []string `json:"options"`      // NVRTC options of every kernel
	Code              string   `json:"code"`         // "cubin sm_90", or which modules fell back to PTX and why
	Numerics          string   `json:"numerics"`     // "plain"
	Graphs            string   `json:"graphs"`       // "on", or "off (why)"
	PDL               string   `json:"pdl"`          // programmatic dependent launch: "on", or "off (why)"
	SyncEachLaunch    bool     `json:"sync"`         // METALLIC_CUDA_SYNC=1
	Timeout           string   `json:"wait_timeout"` // bound of every wait
}

// Provenance describes the device, compiler and modes of this backend.
func (b *Backend) Provenance() Provenance {
	d := b.dev
	maj, mnr := d.nvrtc.version()
	p := Provenance{
		Device:            d.info.name,
		ComputeCapability: fmt.Sprintf("%d.%d", d.info.ccMajor, d.info.ccMinor),
		SMs:               d.info.sms,
		MemoryMiB:         d.info.totalMem >> 20,
		Driver:            fmt.Sprintf("%d.%d", d.info.driverVersion/1000, d.info.driverVersion%1000/10),
		NVRTC:             fmt.Sprintf("%d.%d", maj, mnr),
		NVRTCPath:         d.nvrtc.path(),
		Options:           d.options(),
		Code:              d.code(),
		Numerics:          string(b.Numerics()[0]),
		Graphs:            "on",
		SyncEachLaunch:    b.cfg.sync,
		Timeout:           b.cfg.timeout.String(),
	}
	if off := b.graphsOff(); off != "" {
		p.Graphs = "off (" + off + ")"
	}
	p.PDL = "on"
	if off := b.pdlOff(); off != "" {
		p.PDL = "off (" + off + ")"
	}
	return p
}

// Describe is Provenance().String(), for callers that print a backend's
// provenance without importing this package: they check for
// interface{ Describe() string }.
func (b *Backend) Describe() string { return b.Provenance().String() }

// String is Provenance on one line, for table headers.
func (p Provenance) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cuda: %s (sm_%s, %d SMs, %d MiB), driver %s, NVRTC %s", p.Device,
		strings.ReplaceAll(p.ComputeCapability, ".", ""), p.SMs, p.MemoryMiB, p.Driver, p.NVRTC)
	if p.NVRTCPath != "" {
		fmt.Fprintf(&b, " (%s)", p.NVRTCPath)
	}
	fmt.Fprintf(&b, ", %s, options %s, numerics %s, graphs %s", p.Code, strings.Join(p.Options, " "), p.Numerics, p.Graphs)
	if p.PDL == "on" {
		b.WriteString(", programmatic dependent launch")
	}
	if p.SyncEachLaunch {
		b.WriteString(", sync after every launch")
	}
	return b.String()
}
