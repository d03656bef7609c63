package parity

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/sample"
)

// FidelityRow is one checkpoint of a teacher-forced comparison: path A's
// op recomputed from path B's inputs, compared with B's output bit for bit.
type FidelityRow struct {
	Checkpoint string `json:"checkpoint"` // full name, e.g. "blk.3.ffn_act"
	Layer      int    `json:"layer"`      // block index, -1 outside blocks
	Op         string `json:"op"`         // checkpoint kind, e.g. "ffn_act"
	Pos        int    `json:"pos"`        // first position of the forward call
	Values     int    `json:"values"`
	Differ     int    `json:"differ"`  // values whose bits differ
	MaxULP     int64  `json:"max_ulp"` // largest difference in float32 ulps
	// First is the first differing value: "[row,col] a=… b=…".
	First string `json:"first,omitempty"`
}

// Fidelity is the result of TeacherForce.
type Fidelity struct {
	// Setup is filled with llama.cpp's configuration from the paths; a
	// caller that knows the session's (Session.Setup) sets the rest.
	Setup
	A string `json:"a"` // the path whose ops are checked
	B string `json:"b"` // the path whose inputs they get
	// Numerics is, per path, the arithmetic it declares.
	Numerics map[string]string `json:"numerics"`
	Tokens   []int32           `json:"tokens"`
	Rows     []FidelityRow     `json:"rows"`
	// Missing lists B's checkpoints A does not materialize (fused), which
	// are therefore not compared and not forced.
	Missing []string `json:"missing,omitempty"`
	// Identical is true when every compared value is bit-identical.
	Identical bool `json:"identical"`
	// FirstDiffer is the first row (in execution order) with a difference.
	FirstDiffer *FidelityRow `json:"first_differ"`
	// Promise, when set (by the caller, from BitIdentity), says whether
	// the two paths promise bit identity on this model.
	Promise *Promise `json:"promise,omitempty"`
}

// TeacherForce runs prompt and then decode greedy tokens (B's choice)
// through b, keeping every checkpoint, and then through a with each of a's
// checkpoints compared bitwise with b's and then overwritten by it, so that
// every op of a sees b's inputs: a difference is that op's own, not
// inherited drift. perturb, if not nil, is applied to a's checkpoints
// before the comparison (to show that a fault is localized). Both paths
// are Reset first and left with the run in their caches.
func TeacherForce(a, b model.Path, prompt []int32, decode int, perturb model.Hook) (*Fidelity, error) {
	if len(prompt) == 0 {
		return nil, errors.New("parity: teacher forcing needs a prompt")
	}
	vocab := b.Config().Vocab
	type key struct {
		name string
		pos  int
	}
	want := map[key][]float32{}
	var order []key
	b.SetHook(func(t *model.Tensor) {
		k := key{t.Name, t.Pos}
		if _, dup := want[k]; !dup {
			order = append(order, k)
		}
		want[k] = append([]float32(nil), t.Data...)
	})
	defer b.SetHook(nil)
	b.Reset()
	calls := [][]int32{prompt}
	logits, err := b.Forward(prompt, 0)
	if err != nil {
		return nil, fmt.Errorf("parity: %s: %w", b.Name(), err)
	}
	pos := len(prompt)
	for range decode {
		next := sample.Greedy(logits[len(logits)-vocab:])
		calls = append(calls, []int32{next})
		if logits, err = b.Forward([]int32{next}, pos); err != nil {
			return nil, fmt.Errorf("parity: %s: %w", b.Name(), err)
		}
		pos++
	}

	f := &Fidelity{Setup: Setup{LlamaCpp: model.EngineOf(a, b)}, A: a.Name(), B: b.Name(), Identical: true,
		Numerics: map[string]string{a.Name(): a.Numerics(), b.Name(): b.Numerics()}}
	for _, c := range calls {
		f.Tokens = append(f.Tokens, c...)
	}
	rows := map[key]*FidelityRow{}
	var herr error
	a.SetHook(func(t *model.Tensor) {
		if perturb != nil {
			perturb(t)
		}
		k := key{t.Name, t.Pos}
		w, ok := want[k]
		if !ok {
			return // b does not materialize it: nothing to compare or force
		}
		if len(w) != len(t.Data) {
			if herr == nil {
				herr = fmt.Errorf("parity: %s@%d: %s has %d values, %s %d", t.Name, t.Pos, a.Name(), len(t.Data), b.Name(), len(w))
			}
			return
		}
		r := &FidelityRow{Checkpoint: t.Name, Layer: t.Layer, Op: checkpointKind(t.Name), Pos: t.Pos, Values: len(w)}
		for i, v := range t.Data {
			x, y := math.Float32bits(v), math.Float32bits(w[i])
			if x == y {
				continue
			}
			r.Differ++
			if u := abs64(F32.ordered(float64(v)) - F32.ordered(float64(w[i]))); u > r.MaxULP {
				r.MaxULP = u
			}
			if r.First == "" {
				r.First = fmt.Sprintf("[%d,%d] %s=%g %s=%g", i/max(t.Cols, 1), i%max(t.Cols, 1), a.Name(), v, b.Name(), w[i])
			}
		}
		rows[k] = r
		copy(t.Data, w)
	})
	defer a.SetHook(nil)
	a.Reset()
	pos = 0
	for _, c := range calls {
		if _, err := a.Forward(c, pos); err != nil {
			return nil, fmt.Errorf("parity: %s: %w", a.Name(), err)
		}
		pos += len(c)
	}
	if herr != nil {
		return nil, herr
	}
	seen := map[string]bool{}
	for _, k := range order {
		r, ok := rows[k]
		if !ok {
			if kind := checkpointKind(k.name); !seen[kind] {
				seen[kind] = true
				f.Missing = append(f.Missing, kind)
			}
			continue
		}
		f.Rows = append(f.Rows, *r)
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("parity: %s and %s share no checkpoint", a.Name(), b.Name())
	}
	for i := range f.Rows {
		if f.Rows[i].Differ > 0 {
			f.Identical = false
			f.FirstDiffer = &f.Rows[i]
			break
		}
	}
	return f, nil
}

// checkpointKind is the op part of a checkpoint name: "blk.3.ffn_act" →
// "ffn_act", "logits" → "logits" (the name itself if it is not one).
func checkpointKind(name string) string {
	if kind, _, err := model.ParseCheckpoint(name); err == nil {
		return kind
	}
	return name
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// PrintFidelity writes f as a table: one row per op kind, summed over
// layers and forward calls, then the first differing checkpoint.
func PrintFidelity(w io.Writer, f *Fidelity) error {
	fmt.Fprintf(w, "teacher-forced op fidelity: %s's ops on %s's inputs, %d positions\n", f.A, f.B, len(f.Tokens))
	fmt.Fprintln(w, f.Setup.Header())
	fmt.Fprintln(w, NumericsLine([]string{f.A, f.B}, f.Numerics))
	type agg struct {
		values, differ, n int
		maxULP            int64
	}
	var kinds []string
	by := map[string]*agg{}
	for _, r := range f.Rows {
		g := by[r.Op]
		if g == nil {
			g = &agg{}
			by[r.Op] = g
			kinds = append(kinds, r.Op)
		}
		g.values += r.Values
		g.differ += r.Differ
		g.n++
		g.maxULP = max(g.maxULP, r.MaxULP)
	}
	rank := map[string]int{}
	for i, k := range model.Kinds() {
		rank[k] = i
	}
	slices.SortStableFunc(kinds, func(x, y string) int { return rank[x] - rank[y] })
	tw := tablewriter.NewWriter(w)
	tw.Header("op", "checkpoints", "values", "differ", "max ulp", "verdict")
	for _, k := range kinds {
		g := by[k]
		v := "identical"
		if g.differ > 0 {
			v = "differs"
		}
		if err := tw.Append([]string{k, fmt.Sprint(g.n), fmt.Sprint(g.values), fmt.Sprint(g.differ), fmt.Sprint(g.maxULP), v}); err != nil {
			return err
		}
	}
	if err := tw.Render(); err != nil {
		return err
	}
	if len(f.Missing) > 0 {
		fmt.Fprintf(w, "not materialized by %s (not compared): %s\n", f.A, strings.Join(f.Missing, ", "))
	}
	if f.Identical {
		fmt.Fprintf(w, "every op of %s reproduces %s bit for bit given the same inputs\n", f.A, f.B)
		return nil
	}
	r := f.FirstDiffer
	fmt.Fprintf(w, "first differing op: %s at position %d (%d of %d values, max %d ulp; first %s)\n", r.Checkpoint, r.Pos, r.Differ, r.Values, r.MaxULP, r.First)
	return nil
}
