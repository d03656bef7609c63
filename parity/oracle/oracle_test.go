package oracle_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/gguf"
	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
	"github.com/metallic-go/metallic/parity/oracle"
	"github.com/metallic-go/metallic/synth"
)

func open(t *testing.T, name string) *model.Model {
	t.Helper()
	file := filepath.Join("..", "..", "testdata", "stories260K.gguf")
	if name != "stories260K" {
		file = filepath.Join(t.TempDir(), name+".gguf")
		if _, err := synth.WriteFile(file, synth.Options{Preset: name, DType: gguf.TypeF16, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := model.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// golden is BOS and the first 20 tokens of stories260K's golden greedy
// stream (internal/testenv, with their provenance).
var golden = testenv.StoriesPrompt(21)

// TestGlobalOracleGolden: the float64 forward, fed the documented greedy
// stream, predicts each next token of it.
func TestGlobalOracleGolden(t *testing.T) {
	m := open(t, "stories260K")
	ev, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: golden})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ev.Value("logits")
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.Vocab
	for p := 0; p+1 < len(golden); p++ {
		row := lg.Data[p*v : (p+1)*v]
		best := 0
		for i, x := range row {
			if x > row[best] {
				best = i
			}
		}
		if int32(best) != golden[p+1] {
			t.Errorf("position %d: argmax %d, want %d", p, best, golden[p+1])
		}
	}
}

// TestSelfCheck perturbs every operation's output by one float64 rounding
// (relative 2⁻⁵²) and checks that the oracle moves by far less than the
// tightest threshold of the verdict table: its own error is negligible.
func TestSelfCheck(t *testing.T) {
	tightest := math.Inf(1)
	for _, th := range parity.Thresholds {
		tightest = math.Min(tightest, th.NMSE)
	}
	for _, name := range []string{"stories260K", "tiny-qwen2", "tiny-qwen3"} {
		m := open(t, name)
		toks := []int32{1, 7, 42, 300, 5, 11}
		a, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: toks})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: toks, Jitter: 0x1p-52, Seed: 9})
		worst := 0.0
		for _, name := range model.NewGraph(&m.Config).Names() {
			x, err := a.Value(name)
			if err != nil {
				t.Fatal(err)
			}
			y, err := b.Value(name)
			if err != nil {
				t.Fatal(err)
			}
			nm := float64(parity.Compare(y.Data, x.Data, parity.F32).NMSE)
			worst = math.Max(worst, nm)
			if !(nm < tightest*1e-6) {
				t.Errorf("%s %s: oracle vs jittered oracle nmse %g, want < %g", m.Config.Arch, name, nm, tightest*1e-6)
			}
		}
		if worst == 0 {
			t.Errorf("%s: jitter changed nothing: the self-check is not exercised", name)
		}
		t.Logf("%s: worst oracle self-difference nmse %.3g (tightest threshold %.0e)", name, worst, tightest)
	}
}

// TestLocalUsesCapturedInputs: a local recomputation reads the captured
// upstream values, not its own, and recomputes what was not captured.
func TestLocalUsesCapturedInputs(t *testing.T) {
	m := open(t, "stories260K")
	toks := []int32{1, 403}
	g, _ := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: toks})
	gate, _ := g.Value("blk.0.ffn_gate")
	up, _ := g.Value("blk.0.ffn_up")
	doubled := make([]float64, len(up.Data))
	for i, v := range up.Data {
		doubled[i] = 2 * v
	}
	captured := map[string][]float64{"blk.0.ffn_gate": gate.Data, "blk.0.ffn_up": doubled}
	l, _ := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: toks,
		Captured: func(n string) ([]float64, bool) { v, ok := captured[n]; return v, ok }})
	act, err := l.Compute("blk.0.ffn_act")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.Value("blk.0.ffn_act")
	for i := range act.Data {
		if d := act.Data[i] - 2*want.Data[i]; math.Abs(d) > 1e-15*math.Abs(want.Data[i])+1e-300 {
			t.Fatalf("element %d: %g, want twice %g", i, act.Data[i], want.Data[i])
		}
	}
	if len(act.Ops) != 1 || act.Ops[0] != "swiglu" {
		t.Errorf("ops %v, want [swiglu]", act.Ops)
	}
	// Without captured gate/up, ffn_act is recomputed from the norm chain.
	l2, _ := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: toks,
		Captured: func(n string) ([]float64, bool) { return nil, false }})
	act2, _ := l2.Compute("blk.0.ffn_act")
	if len(act2.Ops) < 3 || len(act2.Inputs) != 0 {
		t.Errorf("uncaptured chain: ops %v inputs %v", act2.Ops, act2.Inputs)
	}
}

func TestErrors(t *testing.T) {
	m := open(t, "stories260K")
	if _, err := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: []int32{1, 512}}); err == nil {
		t.Error("token 512 of a 512-token vocabulary accepted")
	}
	ev, _ := oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: []int32{1}})
	for _, n := range []string{"blk.5.q", "blk.0.q_norm", "nope"} {
		if _, err := ev.Value(n); err == nil {
			t.Errorf("%s: no error", n)
		}
	}
	short := func(string) ([]float64, bool) { return []float64{1}, true }
	ev, _ = oracle.New(oracle.Options{Config: &m.Config, Weights: &m.Weights, Tokens: []int32{1}, Captured: short})
	if _, err := ev.Compute("blk.0.attn_norm"); err == nil {
		t.Error("a captured tensor of the wrong size was accepted")
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
