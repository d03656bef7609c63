package repro

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/backend"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// Options configure Write. The run is step parity's: the prompt, then
// Decode greedy steps, with the perturbations, on one path.
type Options struct {
	File string // the model file
	// Path is "dsl" or "reference"; PathOptions its options (Backend,
	// ActDType, KVDType, Numerics, Unfuse for a stage checkpoint, …).
	Path        string
	PathOptions model.PathOptions
	// Checkpoint is the full name of a checkpoint the path materializes,
	// or with PathOptions.Unfuse of a stage checkpoint (blk.0.q.gemv).
	Checkpoint string
	Prompt     []int32
	Decode     int
	Perturb    []parity.Perturbation
	// Out is the folder to write; it must not exist or be empty.
	Out string
}

// Result is what Write wrote.
type Result struct {
	Manifest *Manifest
	// Row is the step table's local row of the checkpoint (the path
	// against its float64 oracle): the figures the runners reproduce.
	Row parity.Row
	// Steps is the whole step table of the path.
	Steps *parity.Steps
}

// ErrUnsupported marks a repro the package cannot write (a path without
// dispatches, such as llamacpp).
var ErrUnsupported = errors.New("repro: unsupported")

// Write runs the path as step parity does, records every forward call's
// dispatch of the checkpoint and writes the folder.
func Write(o Options) (*Result, error) {
	if o.Path != "dsl" && o.Path != "reference" {
		return nil, fmt.Errorf("%w: path %q (repro supports the dsl and reference paths, whose kernels are metallic's)", ErrUnsupported, o.Path)
	}
	if len(o.Prompt) == 0 {
		return nil, errors.New("repro: no prompt tokens")
	}
	if err := checkOut(o.Out); err != nil {
		return nil, err
	}
	dt, err := parity.ParseDType(o.PathOptions.ActDType)
	if err != nil || dt == parity.BF16 {
		return nil, fmt.Errorf("repro: activation dtype %q: want f32 or f16", o.PathOptions.ActDType)
	}
	kv, err := parity.ParseDType(model.KVDTypeOf(o.PathOptions))
	if err != nil || kv == parity.BF16 {
		return nil, fmt.Errorf("repro: KV cache dtype %q: want f32 or f16", o.PathOptions.KVDType)
	}
	m, err := model.Open(o.File)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	stage, err := checkName(m, o)
	if err != nil {
		return nil, err
	}
	var rec *recorder
	opts := o.PathOptions
	opts.WrapBackend = func(b backend.Backend) backend.Backend {
		rec = newRecorder(b)
		return rec
	}
	p, err := model.OpenPath(o.Path, m, opts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if rec == nil {
		return nil, fmt.Errorf("%w: path %s opened no backend", ErrUnsupported, o.Path)
	}
	var st *model.Stage
	if stage {
		sp, ok := p.(model.StagePath)
		if !ok {
			return nil, fmt.Errorf("repro: %s: path %s has no stage checkpoints (give --unfuse)", o.Checkpoint, p.Name())
		}
		for _, s := range sp.Stages() {
			if s.Name == o.Checkpoint {
				st = &s
			}
		}
		if st == nil {
			return nil, fmt.Errorf("repro: path %s has no stage checkpoint %s (%s)", p.Name(), o.Checkpoint, stageNames(sp.Stages(), o.Checkpoint))
		}
	} else if kind, _, _ := model.ParseCheckpoint(o.Checkpoint); !slices.Contains(p.Checkpoints(), kind) {
		return nil, fmt.Errorf("repro: path %s does not materialize %s (it has %s)", p.Name(), o.Checkpoint, strings.Join(p.Checkpoints(), ","))
	}
	c := &catcher{rec: rec, name: o.Checkpoint}
	h := &hooked{Path: p, mark: c.mark}
	var target model.Path = h
	if sp, ok := p.(model.StagePath); ok {
		target = hookedStages{h, sp}
	}
	tg := parity.Target{Path: target, DType: dt, KV: kv, FlashAttn: opts.FlashAttn}
	steps, err := parity.RunSteps(parity.StepsOptions{Targets: []parity.Target{tg}, Weights: &m.Weights,
		Prompt: o.Prompt, Decode: o.Decode, Perturb: o.Perturb})
	if err != nil {
		return nil, err
	}
	if c.err != nil {
		return nil, c.err
	}
	row, err := localRow(steps, p.Name(), o.Checkpoint)
	if err != nil {
		return nil, err
	}
	tr := steps.Traces[0]
	series := tr.Capture.Series[o.Checkpoint]
	if series == nil || len(c.calls) == 0 {
		return nil, fmt.Errorf("repro: %s was not produced", o.Checkpoint)
	}
	want, _, err := parity.LocalExpected(&m.Config, &m.Weights, tr, o.Checkpoint, st)
	if err != nil {
		return nil, err
	}
	cmp := dt
	if st != nil && st.F32 {
		cmp = parity.F32
	}
	if got := parity.Compare(widen(series.Data), want, cmp); got.NMSE != row.NMSE || got.MaxULP != row.MaxULP {
		return nil, fmt.Errorf("repro: internal: %s recomputes to nmse %g, the table has %g", o.Checkpoint, float64(got.NMSE), float64(row.NMSE))
	}
	cpuOut, err := replayCPU(c.calls, series.Cols)
	if err != nil {
		return nil, err
	}
	f := &folder{o: o, m: m, path: p, calls: c.calls, cols: series.Cols, row: row, cmp: cmp, steps: steps,
		expected: want, cpu: cpuOut, recorded: series.Data, perturb: perturbOf(o.Perturb, p.Name(), o.Checkpoint)}
	man, err := f.write()
	if err != nil {
		return nil, err
	}
	return &Result{Manifest: man, Row: row, Steps: steps}, nil
}

// checkOut refuses an output folder that exists and is not empty, or is
// not a folder.
func checkOut(dir string) error {
	if dir == "" {
		return errors.New("repro: no output folder (--out DIR)")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("repro: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("repro: --out %s exists and is not a folder", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("repro: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("repro: --out %s is not empty (repro writes a new folder)", dir)
	}
	return nil
}

// checkName reports whether the checkpoint is a stage checkpoint, or why
// it is not a name the model has.
func checkName(m *model.Model, o Options) (stage bool, err error) {
	g := model.NewGraph(&m.Config)
	if _, _, err := g.Check(o.Checkpoint); err == nil {
		return false, nil
	}
	cp, _, serr := model.SplitStage(o.Checkpoint)
	if serr != nil {
		_, _, err := g.Check(o.Checkpoint)
		return false, fmt.Errorf("repro: --checkpoint %s: %w", o.Checkpoint, err)
	}
	if _, _, err := g.Check(cp); err != nil {
		return false, fmt.Errorf("repro: --checkpoint %s: %w", o.Checkpoint, err)
	}
	if !o.PathOptions.Unfuse {
		return false, fmt.Errorf("repro: --checkpoint %s is a stage checkpoint: it exists only when the dsl path runs unfused (--unfuse)", o.Checkpoint)
	}
	return true, nil
}

// stageNames lists the stage checkpoints of the checkpoint name belongs
// to, for an error message.
func stageNames(ss []model.Stage, name string) string {
	cp, _, _ := model.SplitStage(name)
	var out []string
	for _, s := range ss {
		if s.Of == cp {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 {
		return "its kernel is not split: " + cp + " is a single stage"
	}
	return "the stages of " + cp + ": " + strings.Join(out, ", ")
}

// localRow returns the step table's row of the path against its local
// oracle for checkpoint name.
func localRow(s *parity.Steps, path, name string) (parity.Row, error) {
	for _, r := range s.Rows {
		if r.Checkpoint == name && r.A == path && r.B == parity.LocalOracle {
			return r, nil
		}
	}
	return parity.Row{}, fmt.Errorf("repro: the step table has no local row for %s of %s", name, path)
}

// perturb is a perturbation applied to the checkpoint itself.
type perturb struct {
	Rel  float64 `json:"rel"`
	Seed uint64  `json:"seed"`
}

// perturbOf returns the perturbations aimed at the checkpoint of the
// path, in the order the run applies them.
func perturbOf(ps []parity.Perturbation, path, name string) []perturb {
	var out []perturb
	for _, p := range ps {
		if p.Path == path && p.Checkpoint == name {
			out = append(out, perturb{Rel: p.Rel, Seed: p.Seed})
		}
	}
	return out
}

func widen(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}
