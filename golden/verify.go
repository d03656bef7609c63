package golden

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// Verdicts of a Row (Pass and Fail spelled as parity's).
const (
	Pass    = parity.Pass
	Fail    = parity.Fail // NMSE above the threshold, or non-finite values appeared
	Missing = "missing"   // the path no longer produces this checkpoint
	Shape   = "shape"     // the checkpoint's shape changed
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Model string // model file; its SHA-256 must equal the recorded one
	// Backend and Threads override the recorded backend (empty) and the
	// default thread count (0).
	Backend string
	Threads int
	// Numerics, when set, is the profile to run the paths under instead
	// of the recorded one. A different profile is refused
	// (*NumericsMismatchError) unless AllowNumericsChange is set.
	Numerics            string
	AllowNumericsChange bool
	// Perturbations are applied as the paths run (parity.Perturbation.Hook,
	// a fresh seeded stream per run), to prove that a fault is found. Each
	// is checked before anything runs: its path must be one the golden
	// records, and parity.CheckPerturbations must accept it (a layer the
	// model has, a checkpoint the path produces); otherwise Verify fails.
	Perturbations []parity.Perturbation
	// Perturb, when set, returns a further hook to run on every checkpoint
	// a path produces (before it is captured). It is not checked: prefer
	// Perturbations.
	Perturb func(path string) model.Hook
	// Progress, when set, is called (1+n) times per recorded path, after
	// each prefill and each token.
	Progress func(stage string)
}

// Row is one compared checkpoint of one path.
type Row struct {
	Path       string `json:"path"`
	Checkpoint string `json:"checkpoint"` // full name; "gen_logits" and "tokens" for the generation
	Layer      int    `json:"layer"`      // block index, -1 outside blocks
	parity.Metrics
	Limit   parity.Num `json:"nmse_limit"`
	Verdict string     `json:"verdict"`
	Note    string     `json:"note,omitempty"`
}

// Failed reports whether the row is a regression.
func (r *Row) Failed() bool { return r.Verdict != Pass }

// Stream compares one path's generated tokens with the recorded ones.
type Stream struct {
	Recorded []int32 `json:"recorded"`
	Got      []int32 `json:"got"` // sampled while teacher-forced on Recorded
	// FirstDivergence is the first step whose sampled token differs, -1 if none.
	FirstDivergence int `json:"first_divergence"`
}

// Report is the outcome of Verify.
type Report struct {
	ModelSHA256 string `json:"model_sha256"`
	Policy      string `json:"policy"`
	// Numerics is the profile the paths ran under now; RecordedNumerics
	// the golden's. They differ only with AllowNumericsChange.
	Numerics         string            `json:"numerics"`
	RecordedNumerics string            `json:"recorded_numerics"`
	Rows             []Row             `json:"rows"` // per path, in execution order
	Streams          map[string]Stream `json:"streams"`
	Pass             bool              `json:"pass"`
	FirstFailure     *Row              `json:"first_failure"` // the first failing row, nil when all pass
	// Backends is, per path as the rows name it, the backend it ran on now
	// and that backend's provenance line.
	Backends map[string]parity.PathBackend `json:"backends"`
}

// ModelMismatchError says that the model given to Verify is not the one the
// golden was recorded on.
type ModelMismatchError struct {
	Recorded, RecordedFile string // SHA-256 and file name in the golden
	Given, GivenFile       string // SHA-256 and path of the model given
}

func (e *ModelMismatchError) Error() string {
	return fmt.Sprintf("golden: model mismatch: the golden was recorded on %s with sha256 %s, but %s has sha256 %s (pass the recorded model with --model, or re-record)",
		e.RecordedFile, e.Recorded, e.GivenFile, e.Given)
}

// Verify reruns every recorded path on the model with the recorded settings
// (teacher-forced on the recorded token stream, so that every logit row stays
// comparable after a divergence) and compares the results with the golden.
// A regression is not an error: it is reported by Report.Pass. Errors are
// bad input: an unreadable model, a model whose hash differs
// (*ModelMismatchError), another numerics profile than the recorded one
// without AllowNumericsChange (*NumericsMismatchError), a path that cannot
// be opened (a backend that lacks the profile among them).
func Verify(g *Golden, o VerifyOptions) (*Report, error) {
	m := &g.Meta
	sum, err := FileSHA256(o.Model)
	if err != nil {
		return nil, err
	}
	if sum != m.ModelSHA256 {
		return nil, &ModelMismatchError{Recorded: m.ModelSHA256, RecordedFile: m.ModelFile, Given: sum, GivenFile: o.Model}
	}
	mod, err := model.Open(o.Model)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	defer mod.Close()
	num := m.Numerics
	if o.Numerics != "" && o.Numerics != num {
		if !o.AllowNumericsChange {
			return nil, &NumericsMismatchError{Recorded: num, Asked: o.Numerics}
		}
		num = o.Numerics
	}
	opts := model.PathOptions{Backend: m.Backend, ActDType: m.ActDType, Threads: o.Threads, Numerics: num}
	if num == model.NumericsLlamaCpp {
		opts.Numerics = "" // llama.cpp's own arithmetic: nothing to ask for
	}
	if o.Backend != "" {
		opts.Backend = o.Backend
	}
	targets, ps, err := openRuns(g, mod, opts, num, o.Backend, o.Perturbations)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range targets {
			if t.Path != nil {
				t.Path.Close()
			}
		}
	}()
	rep := &Report{ModelSHA256: sum, Policy: m.Policy.String(), Numerics: num, RecordedNumerics: m.Numerics,
		Streams: map[string]Stream{}, Pass: true, Backends: parity.SetupOf(targets).Backends}
	for i := range g.Runs {
		want := &g.Runs[i]
		t := &targets[i]
		name := t.DisplayName()
		extra := parity.PerturbHook(*t, ps)
		if o.Perturb != nil {
			extra = parity.Chain(extra, o.Perturb(name))
		}
		names := map[string]bool{}
		for _, c := range want.Checkpoints {
			names[c.Name] = true
		}
		got, err := runPath(t.Path, runOptions{
			Name: name, Prompt: m.PromptTokens, N: m.NGenerated, Sampler: m.Sampler,
			Keep: func(n string) bool { return names[n] }, Extra: extra, Teacher: want.Tokens, Progress: o.Progress,
		})
		t.Path.Close()
		t.Path = nil
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, compareRun(name, want, got, m)...)
		rep.Streams[name] = stream(want.Tokens, got.Tokens)
	}
	for i := range rep.Rows {
		if rep.Rows[i].Failed() {
			rep.Pass = false
			rep.FirstFailure = &rep.Rows[i]
			break
		}
	}
	return rep, nil
}

// Refs returns the recorded paths with their backends: "reference@cpu"
// as recorded, and a bare name (a golden recorded before paths named
// their backend) on the golden's Backend ("cpu" when empty).
func (m *Meta) Refs() ([]model.PathRef, error) {
	refs, err := parity.ParsePaths(m.Paths, m.Backend)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	return refs, nil
}

// openRuns opens the path of every recorded run on its recorded backend
// (every one but llamacpp's on override instead, when given), checks that
// each runs the numerics profile num (llamacpp runs its own), and checks
// the perturbations asked (resolved by parity.ResolvePerturbations: a bare
// name on the golden's backend, or override) against them before anything
// runs; it returns the targets and the resolved perturbations. Each target is named as reports name it (model.DisplayNames).
func openRuns(g *Golden, mod *model.Model, opts model.PathOptions, num, override string, asked []parity.Perturbation) ([]parity.Target, []parity.Perturbation, error) {
	refs, err := g.Meta.Refs()
	if err != nil {
		return nil, nil, err
	}
	if override != "" {
		recorded := slices.Clone(refs)
		for i := range refs {
			if refs[i].Path != "llamacpp" {
				refs[i].Backend = override
			}
			if j := slices.Index(refs[:i], refs[i]); j >= 0 {
				return nil, nil, fmt.Errorf("golden: --backend %s would run the recorded %s and %s both as %s", override, recorded[j], recorded[i], refs[i])
			}
		}
	}
	display := model.DisplayNames(refs)
	var targets []parity.Target
	closeAll := func() {
		for _, t := range targets {
			t.Path.Close()
		}
	}
	for i, ref := range refs {
		p, err := model.OpenPathRef(ref, mod, opts)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("golden: open path %s: %w", ref, err)
		}
		targets = append(targets, parity.Target{Path: p, Name: display[i], Backend: ref.Backend})
		if n := p.Numerics(); n != num && n != model.NumericsLlamaCpp {
			closeAll()
			return nil, nil, fmt.Errorf("golden: path %s runs numerics %s, not the %s asked for", ref, n, num)
		}
	}
	def := g.Meta.Backend
	if override != "" {
		def = override
	}
	ps := parity.ResolvePerturbations(asked, targets, def)
	for i, pt := range ps {
		if !slices.ContainsFunc(targets, func(t parity.Target) bool { return t.Matches(pt.Path) }) {
			closeAll()
			return nil, nil, fmt.Errorf("golden: --perturb %s: path %q is not in the golden (it records %s)", asked[i], asked[i].Path, strings.Join(display, ","))
		}
	}
	if err := parity.CheckPerturbations(targets, ps); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("golden: %w", err)
	}
	return targets, ps, nil
}

// compareRun compares a fresh run with the recorded one, row by row.
func compareRun(name string, want, got *Run, m *Meta) []Row {
	fresh := map[string]*Checkpoint{}
	for i := range got.Checkpoints {
		fresh[got.Checkpoints[i].Name] = &got.Checkpoints[i]
	}
	var rows []Row
	for i := range want.Checkpoints {
		w := &want.Checkpoints[i]
		rows = append(rows, compareCheckpoint(name, w, fresh[w.Name], m))
	}
	if len(want.Tokens) > 0 {
		gen := compareCheckpoint(name, &want.GenLogits, &got.GenLogits, m)
		rows = append(rows, gen)
		s := stream(want.Tokens, got.Tokens)
		// Only N, the verdict and the note mean anything for the stream.
		r := Row{Path: name, Checkpoint: tensorTokens, Layer: -1, Verdict: Pass}
		r.N, r.Cos = len(want.Tokens), 1
		if s.FirstDivergence >= 0 {
			k := s.FirstDivergence
			r.Verdict = Fail
			r.Note = fmt.Sprintf("first divergence at step %d: sampled %d, recorded %d", k, got.Tokens[k], want.Tokens[k])
			if !gen.Failed() {
				r.Note += " (the logits it was sampled from pass: the sampler changed)"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// compareCheckpoint compares a fresh checkpoint (nil if the path did not
// produce it) with the recorded one.
func compareCheckpoint(path string, want, got *Checkpoint, m *Meta) Row {
	r := Row{Path: path, Checkpoint: want.Name, Layer: want.Layer, Limit: parity.Num(m.Policy.Threshold(want.Name))}
	switch {
	case got == nil:
		r.Verdict, r.Note = Missing, "the path no longer produces this checkpoint"
		return r
	case got.Rows != want.Rows || got.Cols != want.Cols:
		r.Verdict = Shape
		r.Note = fmt.Sprintf("shape [%d, %d], recorded [%d, %d]", got.Rows, got.Cols, want.Rows, want.Cols)
		return r
	}
	dtype := parity.F32
	if m.Storage == storageF16 || m.ActDType == storageF16 {
		dtype = parity.F16
	}
	a := widen(roundStorage(m.Storage, got.Data))
	b := widen(want.Data)
	r.Metrics = parity.Compare(a, b, dtype)
	mismatch := 0 // elements finite on one side only, or with different non-finite values
	for i := range a {
		fa, fb := finite(a[i]), finite(b[i])
		if fa != fb || (!fa && !(a[i] == b[i] || math.IsNaN(a[i]) && math.IsNaN(b[i]))) {
			mismatch++
		}
	}
	switch {
	case mismatch > 0:
		r.Verdict = Fail
		r.Note = fmt.Sprintf("%d elements are non-finite on one side only", mismatch)
	case !(float64(r.NMSE) <= float64(r.Limit)):
		r.Verdict = Fail
		row, col := r.MaxAbsIndex/max(want.Cols, 1), r.MaxAbsIndex%max(want.Cols, 1)
		r.Note = fmt.Sprintf("nmse %.3g > %.3g; max_abs %.3g at position %d, column %d", float64(r.NMSE), float64(r.Limit), float64(r.MaxAbs), row, col)
	default:
		r.Verdict = Pass
	}
	return r
}

// stream compares token streams.
func stream(want, got []int32) Stream {
	s := Stream{Recorded: want, Got: got, FirstDivergence: -1}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			s.FirstDivergence = i
			break
		}
	}
	return s
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
