package paritytest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

func stories(t *testing.T) string { return testenv.Stories(t) }

// recorder is a testing.TB whose Fatalf records the message and stops the
// helper by panicking with it.
type recorder struct {
	*testing.T
	msg string
}

type fatal struct{}

func (r *recorder) Fatalf(format string, a ...any) {
	r.msg = fmt.Sprintf(format, a...)
	panic(fatal{})
}

func catch(f func()) (stopped bool) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(fatal); !ok {
				panic(v)
			}
			stopped = true
		}
	}()
	f()
	return false
}

func TestRequireParityPasses(t *testing.T) {
	m := stories(t)
	st := RequireStepParity(t, m, Options{Paths: []string{"reference"}})
	if len(st.Rows) == 0 {
		t.Fatal("no rows")
	}
	needLlamacpp(t)
	tk := RequireTokenParity(t, m, Options{Paths: []string{"reference", "llamacpp"}, N: 16, Tokens: []int32{1}, PathOptions: model.PathOptions{Threads: 1}})
	// Greedy from BOS: the documented stories260K continuation.
	want := testenv.StoriesGreedy()[:16]
	for _, path := range []string{"reference", "llamacpp"} {
		if got := tk.Streams[path]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s stream %v, want %v", path, got, want)
		}
	}
}

// needLlamacpp skips (or fails under METALLIC_REQUIRE_ORACLES=1) when the
// llama.cpp library cannot be loaded.
func needLlamacpp(t *testing.T) {
	t.Helper()
	if err := llamacpp.Available(); err != nil {
		testenv.NeedOracle(t, fmt.Sprintf("llama.cpp not available: %v", err))
	}
}

func TestRequireStepParityFailsWithTable(t *testing.T) {
	p, err := parity.ParsePerturb("reference:blk.1.ffn_out=1e-2")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{T: t}
	if !catch(func() {
		RequireStepParity(r, stories(t), Options{Paths: []string{"reference"}, Perturb: []parity.Perturbation{p}})
	}) {
		t.Fatal("a perturbed run passed")
	}
	for _, want := range []string{"step parity fails at blk.1.ffn_out (reference vs local)", "CHECKPOINT", "FIRST FAILURE: blk.1.ffn_out"} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("message lacks %q:\n%s", want, r.msg)
		}
	}
}
