package parity

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/metallic-go/metallic/model"
)

// Perturbation multiplies one checkpoint of one path by (1 + Rel·u) as it
// is produced, u uniform in [−1, 1], so that the error propagates through
// the rest of the forward pass. It exists to prove that the harness
// localizes faults.
//
// The RNG is SplitMix64 (Steele, Lea, Flood 2014) seeded with Seed; one
// value is drawn per element, in row-major order, across every forward call
// of a run, and mapped to u = 2·(z>>11)·2⁻⁵³ − 1. Same seed, same u.
type Perturbation struct {
	Path       string  // "reference", "dsl@cuda", …: a target's name or PATH@BACKEND
	Checkpoint string  // full name, e.g. "blk.3.ffn_act"
	Rel        float64 // relative amplitude, ≥ 0
	Seed       uint64
}

// ParsePerturb parses "PATH:CHECKPOINT=REL", e.g. "dsl:blk.3.ffn_act=1e-3".
func ParsePerturb(s string) (Perturbation, error) {
	var p Perturbation
	path, rest, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return p, fmt.Errorf("parity: --perturb %q: want PATH:CHECKPOINT=REL (e.g. dsl:blk.3.ffn_act=1e-3)", s)
	}
	name, rel, ok := strings.Cut(rest, "=")
	if !ok {
		return p, fmt.Errorf("parity: --perturb %q: want PATH:CHECKPOINT=REL (missing =REL)", s)
	}
	if _, _, err := model.ParseCheckpoint(name); err != nil {
		return p, fmt.Errorf("parity: --perturb %q: %w", s, err)
	}
	r, err := strconv.ParseFloat(rel, 64)
	if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return p, fmt.Errorf("parity: --perturb %q: REL must be a finite number ≥ 0", s)
	}
	return Perturbation{Path: path, Checkpoint: name, Rel: r, Seed: 1}, nil
}

// ResolvePerturbations returns a copy of ps in which every bare path name
// ("dsl") that is not the name of one of ts (a report names its paths bare
// when they all run on one backend) is resolved to that path on backend
// def ("dsl@cuda"), by the rule of --paths (model.ParsePathRef: a bare
// name runs on --backend, llamacpp on cpu). Names with a backend, names of
// ts, and names that do not parse are kept.
func ResolvePerturbations(ps []Perturbation, ts []Target, def string) []Perturbation {
	out := slices.Clone(ps)
	for i := range out {
		if strings.Contains(out[i].Path, "@") || slices.ContainsFunc(ts, func(t Target) bool { return t.Matches(out[i].Path) }) {
			continue
		}
		if r, err := model.ParsePathRef(out[i].Path, def); err == nil {
			out[i].Path = r.String()
		}
	}
	return out
}

// String formats p as ParsePerturb reads it.
func (p Perturbation) String() string {
	return fmt.Sprintf("%s:%s=%g", p.Path, p.Checkpoint, p.Rel)
}

// Hook returns a hook that perturbs p.Checkpoint in place; other
// checkpoints pass untouched. Each call of Hook starts a fresh RNG stream.
func (p Perturbation) Hook() model.Hook {
	rng := newSplitMix(p.Seed)
	return func(t *model.Tensor) {
		if t.Name != p.Checkpoint {
			return
		}
		for i, v := range t.Data {
			t.Data[i] = float32(float64(v) * (1 + p.Rel*rng.uniform()))
		}
	}
}

// splitMix is a SplitMix64 generator.
type splitMix struct{ s uint64 }

func newSplitMix(seed uint64) *splitMix { return &splitMix{seed} }

func (r *splitMix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns a value uniform in [−1, 1).
func (r *splitMix) uniform() float64 { return float64(r.next()>>11)*0x1p-52 - 1 }
