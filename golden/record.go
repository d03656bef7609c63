package golden

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/metallic-go/metallic/internal/infile"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/sample"
)

// RecordOptions configure Record.
type RecordOptions struct {
	Model string // model file
	// Paths to record, PATH or PATH@BACKEND (a bare name runs on
	// PathOptions.Backend); empty means ["reference"]. The golden records
	// where each ran: bare names and its Backend when all ran on one
	// backend, "reference@cuda" names when they span two.
	Paths       []string
	PathOptions model.PathOptions // Backend (of bare names), ActDType, Threads, … for every path
	Checkpoints []string          // globs selecting checkpoints; empty means all
	Prompt      []int32           // prompt tokens (at least one)
	PromptText  string            // the text Prompt was tokenized from, for the record
	N           int               // tokens to generate
	Sampler     sample.Options
	F16         bool      // store checkpoints and logits as f16
	Policy      *Policy   // nil means DefaultPolicy of the storage dtype
	ToolVersion string    // empty means ToolVersion()
	Created     time.Time // zero means now
	// Progress, when set, is called len(Paths)·(1+N) times, after each
	// prefill and each token.
	Progress func(stage string)
}

// Record runs every requested path over the model and returns the golden.
func Record(o RecordOptions) (*Golden, error) {
	if len(o.Prompt) == 0 {
		return nil, fmt.Errorf("golden: record needs at least one prompt token")
	}
	if o.N < 0 {
		return nil, fmt.Errorf("golden: -n %d is negative", o.N)
	}
	if err := o.Sampler.Validate(); err != nil {
		return nil, err
	}
	keep, err := Selector(o.Checkpoints)
	if err != nil {
		return nil, err
	}
	asked := o.Paths
	if len(asked) == 0 {
		asked = []string{"reference"}
	}
	refs, err := parity.ParsePaths(asked, o.PathOptions.Backend)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	// Paths are recorded as reports name them (model.DisplayNames): bare
	// with the golden's Backend when every path runs on one backend (the
	// form older goldens have), PATH@BACKEND when they span two.
	paths := model.DisplayNames(refs)
	recBackend := o.PathOptions.Backend
	if !strings.Contains(paths[0], "@") {
		recBackend = refs[0].Backend
	}
	storage := storageF32
	if o.F16 || o.PathOptions.ActDType == storageF16 {
		storage = storageF16
	}
	policy := o.Policy
	if policy == nil {
		p, err := DefaultPolicy(storage)
		if err != nil {
			return nil, err
		}
		policy = &p
	}
	sum, err := FileSHA256(o.Model)
	if err != nil {
		return nil, err
	}
	m, err := model.Open(o.Model)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	defer m.Close()
	if err := fits(&m.Config, o.PathOptions, len(o.Prompt), o.N); err != nil {
		return nil, err
	}

	created := o.Created
	if created.IsZero() {
		created = time.Now()
	}
	tool := o.ToolVersion
	if tool == "" {
		tool = ToolVersion()
	}
	backend, act := recBackend, o.PathOptions.ActDType
	if backend == "" {
		backend = "cpu"
	}
	if act == "" {
		act = "f32"
	}
	g := &Golden{Meta: Meta{
		Version:      Version,
		ModelSHA256:  sum,
		ModelName:    m.Config.Name,
		ModelFile:    filepath.Base(o.Model),
		Arch:         m.Config.Arch,
		Paths:        paths,
		Backend:      backend,
		ActDType:     act,
		Sampler:      o.Sampler,
		PromptTokens: append([]int32(nil), o.Prompt...),
		PromptText:   o.PromptText,
		NGenerated:   o.N,
		Checkpoints:  o.Checkpoints,
		Storage:      storage,
		ToolVersion:  tool,
		Created:      created.UTC().Truncate(time.Second),
		Policy:       *policy,
	}}
	for i, ref := range refs {
		name := paths[i]
		p, err := model.OpenPathRef(ref, m, o.PathOptions)
		if err != nil {
			return nil, fmt.Errorf("golden: open path %s: %w", name, err)
		}
		if err := g.Meta.addNumerics(p); err != nil {
			p.Close()
			return nil, err
		}
		if g.Backends == nil {
			g.Backends = map[string]parity.PathBackend{}
		}
		g.Backends[name] = parity.PathBackend{Backend: ref.Backend, Provenance: model.DescribeBackend(p)}
		run, err := runPath(p, runOptions{Name: name, Prompt: o.Prompt, N: o.N, Sampler: o.Sampler, Keep: keep, Progress: o.Progress})
		p.Close()
		if err != nil {
			return nil, err
		}
		if err := finiteRun(run); err != nil {
			return nil, err
		}
		if bad := unmatched(o.Checkpoints, run.produced); len(bad) > 0 {
			return nil, fmt.Errorf("golden: --checkpoints %s match no checkpoint of %s (it produces %s)",
				strings.Join(bad, ","), name, summarize(run.produced))
		}
		if storage == storageF16 {
			for i := range run.Checkpoints {
				run.Checkpoints[i].Data = roundStorage(storage, run.Checkpoints[i].Data)
			}
			run.GenLogits.Data = roundStorage(storage, run.GenLogits.Data)
		}
		g.Runs = append(g.Runs, *run)
	}
	return g, nil
}

// ErrNonFinite is wrapped by Record's error when a path produced NaN or
// Inf in a recorded checkpoint or logit: such a golden could never pass.
var ErrNonFinite = errors.New("golden: non-finite values")

// finiteRun returns an error wrapping ErrNonFinite naming the first
// recorded checkpoint (execution order, then the generation's logits) that
// holds a NaN or an infinity.
func finiteRun(r *Run) error {
	cps := append(r.Checkpoints[:len(r.Checkpoints):len(r.Checkpoints)], r.GenLogits)
	for _, c := range cps {
		for i, v := range c.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				cols := max(c.Cols, 1)
				return fmt.Errorf("%w: %s produced %v in %s at position %d, column %d (non-finite weights in the model?): a golden of it could never pass",
					ErrNonFinite, r.Path, v, c.Name, i/cols, i%cols)
			}
		}
	}
	return nil
}

// fits returns an error wrapping model.ErrTooLarge unless a run of prompt
// tokens followed by n generated ones fits in the KV cache the paths open
// with opts (model.ContextSize): the last generated token is sampled, not
// fed, so the run takes prompt+n−1 positions.
func fits(cfg *model.Config, opts model.PathOptions, prompt, n int) error {
	ctx, err := model.ContextSize(cfg, opts)
	if err != nil {
		return fmt.Errorf("golden: %w", err)
	}
	if prompt > ctx || n > ctx-prompt+1 {
		return fmt.Errorf("golden: a %d-token prompt and %d generated tokens need %s positions, more than the context of %d: %w",
			prompt, n, positions(prompt, n), ctx, model.ErrTooLarge)
	}
	return nil
}

// positions formats prompt+n−1 without overflowing.
func positions(prompt, n int) string {
	if n > math.MaxInt-prompt {
		return fmt.Sprintf("%d+%d−1", prompt, n)
	}
	return fmt.Sprint(prompt + max(n, 1) - 1)
}

// summarize lists checkpoint names compactly: the globals and layer 0's,
// with "blk.N" standing for every layer.
func summarize(names []string) string {
	var out []string
	for _, n := range names {
		kind, layer, err := model.ParseCheckpoint(n)
		switch {
		case err != nil || layer < 0:
			out = append(out, n)
		case layer == 0:
			out = append(out, "blk.N."+kind)
		}
	}
	return strings.Join(out, " ")
}

// FileSHA256 returns the hex SHA-256 of a regular file's contents; a named
// pipe or a device such as /dev/zero is refused (it would never end).
func FileSHA256(path string) (string, error) {
	f, err := infile.Open(path)
	if err != nil {
		return "", fmt.Errorf("golden: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("golden: hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ToolVersion describes the running binary: the main module's version and,
// when built from a VCS checkout, the revision (with "+dirty" when modified).
func ToolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "metallic (unknown build)"
	}
	v := "metallic " + bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v + " " + bi.GoVersion
}
