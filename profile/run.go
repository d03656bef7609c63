package profile

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// Options configure Run.
type Options struct {
	Model *model.Model
	// Path is the path to profile with its backend.
	Path model.PathRef
	// PathOptions are its options (Backend is Path's); a zero Ctx becomes
	// len(Prompt)+N, the positions the run takes (see Bytes).
	PathOptions model.PathOptions
	// Prompt is prefilled one token at a time before profiling (so its
	// calls are decode-shaped warm-ups).
	Prompt []int32
	// N greedy decode tokens are profiled.
	N int
}

// Kernel is one kernel of a Report, summed over the profiled tokens.
type Kernel struct {
	Kernel string  `json:"kernel"` // label: op with dtypes (and a matmul's N×K), or composed name [grid]
	Op     string  `json:"op"`     // built-in op, or "composed"
	Calls  float64 `json:"calls_per_token"`
	Ms     float64 `json:"ms_per_token"`
	Share  float64 `json:"share"`           // of the kernels' sum
	Bytes  float64 `json:"bytes_per_token"` // estimated traffic (see Bytes)
	GBs    float64 `json:"gb_s"`            // achieved bandwidth: Bytes / Ms
}

// Report is a per-kernel profile of decode.
type Report struct {
	Path       string `json:"path"`       // PATH@BACKEND
	Backend    string `json:"backend"`    // e.g. "cuda"
	Provenance string `json:"provenance"` // the backend's line
	Numerics   string `json:"numerics"`
	// Timer is how kernels were timed: TimerEvents or TimerWall.
	Timer string `json:"timer"`
	// Tokens decode tokens were profiled, the first at position Position.
	Tokens   int `json:"tokens"`
	Position int `json:"position"`
	// TokenMs is the mean wall time of one profiled decode forward call
	// (what the host waited for, logits included); KernelMs the sum of the
	// kernel times per token; GapMs = TokenMs − KernelMs, Gap what it is.
	TokenMs  float64 `json:"token_ms"`
	KernelMs float64 `json:"kernel_ms"`
	GapMs    float64 `json:"gap_ms"`
	// GapShare is GapMs/TokenMs; Within10 says |GapShare| ≤ 10%.
	GapShare float64 `json:"gap_share"`
	Within10 bool    `json:"within_10pct"`
	Gap      string  `json:"gap"`
	// Bytes and GBs are the kernels' estimated traffic per token and the
	// bandwidth it achieves over the kernels' time.
	Bytes   float64  `json:"bytes_per_token"`
	GBs     float64  `json:"gb_s"`
	Kernels []Kernel `json:"kernels"` // slowest first
}

// Run opens o.Path with a Recorder on its backend, prefills the prompt one
// token at a time (unprofiled warm-up), then profiles N greedy decode
// tokens.
func Run(o Options) (*Report, error) {
	if len(o.Prompt) == 0 || o.N <= 0 {
		return nil, fmt.Errorf("profile: needs a prompt and N > 0")
	}
	rec := NewRecorder()
	rec.SetEmbedding(o.Model.Weights.Embd.Data, o.Model.Weights.Embd.N)
	opts := o.Path.Options(o.PathOptions)
	opts.WrapBackend = rec.Wrap
	if opts.Ctx == 0 {
		opts.Ctx = len(o.Prompt) + o.N
	}
	p, err := model.OpenPath(o.Path.Path, o.Model, opts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	vocab := p.Config().Vocab
	var last []float32
	pos := 0
	step := func(tok int32) error {
		rec.Mark(pos, 1)
		lg, err := p.Forward([]int32{tok}, pos)
		if err != nil {
			return err
		}
		if len(lg) != vocab {
			return fmt.Errorf("profile: %s returned %d logits, want %d", o.Path, len(lg), vocab)
		}
		last, pos = lg, pos+1
		return nil
	}
	for _, tok := range o.Prompt { // single-token calls: they warm up decode
		if err := step(tok); err != nil {
			return nil, err
		}
	}
	rep := &Report{Path: o.Path.String(), Backend: model.BackendOf(p), Provenance: model.DescribeBackend(p), Numerics: p.Numerics(),
		Timer: rec.Timer(), Tokens: o.N, Position: pos}
	if err := rec.Start(); err != nil {
		return nil, err
	}
	wall := 0.0
	for range o.N {
		t0 := time.Now()
		err := step(sample.Greedy(last))
		wall += float64(time.Since(t0).Nanoseconds()) / 1e6
		if err != nil {
			rec.Stop()
			return nil, err
		}
	}
	ds, err := rec.Stop()
	if err != nil {
		return nil, err
	}
	rep.aggregate(ds, wall, float64(4*vocab))
	return rep, nil
}

// aggregate fills the kernels and totals from the dispatches of Tokens
// tokens that took wall ms.
func (rep *Report) aggregate(ds []dispatch, wall, logitBytes float64) {
	n := float64(rep.Tokens)
	by := map[string]*Kernel{}
	var order []string
	for _, d := range ds {
		k := by[d.label]
		if k == nil {
			k = &Kernel{Kernel: d.label, Op: d.op}
			by[d.label] = k
			order = append(order, d.label)
		}
		k.Calls++
		k.Ms += d.ms
		k.Bytes += d.bytes
	}
	for _, l := range order {
		k := by[l]
		k.Calls, k.Ms, k.Bytes = k.Calls/n, k.Ms/n, k.Bytes/n
		k.GBs = gbs(k.Bytes, k.Ms)
		rep.KernelMs += k.Ms
		rep.Bytes += k.Bytes
		rep.Kernels = append(rep.Kernels, *k)
	}
	for i := range rep.Kernels {
		if rep.KernelMs > 0 {
			rep.Kernels[i].Share = rep.Kernels[i].Ms / rep.KernelMs
		}
	}
	slices.SortStableFunc(rep.Kernels, func(a, b Kernel) int {
		switch {
		case a.Ms > b.Ms:
			return -1
		case a.Ms < b.Ms:
			return 1
		}
		return 0
	})
	rep.GBs = gbs(rep.Bytes, rep.KernelMs)
	rep.TokenMs = wall / n
	rep.GapMs = rep.TokenMs - rep.KernelMs
	if rep.TokenMs > 0 {
		rep.GapShare = rep.GapMs / rep.TokenMs
	}
	rep.Within10 = math.Abs(rep.GapShare) <= 0.10
	rep.Gap = gapWhy(rep.Timer, logitBytes)
}

// gapWhy names what the token time holds besides the kernels.
func gapWhy(timer string, logitBytes float64) string {
	if timer == TimerEvents {
		return fmt.Sprintf("launch overhead and sync: while profiling every kernel is launched by the host between two events (no CUDA graph), "+
			"so the host's launch latency not hidden behind the GPU, the final wait for the stream and the %.0f-byte logits download are outside the kernels' times", logitBytes)
	}
	return fmt.Sprintf("host work outside the kernels: uploading the token and position, recording and binding each dispatch, the %.0f-byte logits download, "+
		"and the path's own Go code between dispatches", logitBytes)
}

func gbs(bytes, ms float64) float64 {
	if ms <= 0 {
		return 0
	}
	return bytes / (ms / 1e3) / 1e9
}

// Print writes the report as a table, slowest kernel first, then the sum
// against the token time and what the gap is.
func Print(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "per-kernel profile of %s decode (numerics %s): %d tokens from position %d, timed by %s\n", rep.Path, rep.Numerics, rep.Tokens, rep.Position, rep.Timer)
	fmt.Fprintf(w, "backend: %s\n", rep.Provenance)
	tw := tablewriter.NewWriter(w)
	tw.Header("kernel", "op", "calls/token", "ms/token", "share", "MB/token", "GB/s")
	for _, k := range rep.Kernels {
		if err := tw.Append([]string{k.Kernel, k.Op, fmt.Sprintf("%.0f", k.Calls), fmt.Sprintf("%.4f", k.Ms), fmt.Sprintf("%.1f%%", 100*k.Share),
			fmt.Sprintf("%.3f", k.Bytes/1e6), fmt.Sprintf("%.1f", k.GBs)}); err != nil {
			return err
		}
	}
	if err := tw.Render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "kernels %.4f ms/token (%.3f MB at %.1f GB/s), token %.4f ms: gap %.4f ms (%.1f%%)", rep.KernelMs, rep.Bytes/1e6, rep.GBs, rep.TokenMs, rep.GapMs, 100*rep.GapShare)
	if rep.Within10 {
		fmt.Fprintln(w, ", within 10%")
	} else {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "gap: %s\n", rep.Gap)
	return nil
}
