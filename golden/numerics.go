package golden

import (
	"fmt"

	"github.com/metallic-go/metallic/model"
)

// LegacyNumerics is the profile of a golden recorded before numerics
// profiles existed (it has no KeyNumerics): ggml-cpu, the only arithmetic
// the paths had then.
const LegacyNumerics = "ggml-cpu"

// knownNumerics reports whether s is a numerics a path may declare.
func knownNumerics(s string) bool {
	return s == "plain" || s == "ggml-cpu" || s == model.NumericsLlamaCpp
}

// addNumerics records the numerics path p declares in m.Numerics. The
// golden holds one profile: that of metallic's own paths, which share the
// recording's PathOptions; llama.cpp's own arithmetic is recorded only
// when it is the only path.
func (m *Meta) addNumerics(p model.Path) error {
	n := p.Numerics()
	switch {
	case !knownNumerics(n):
		return fmt.Errorf("golden: path %s declares unknown numerics %q", p.Name(), n)
	case n == model.NumericsLlamaCpp:
		if m.Numerics == "" {
			m.Numerics = n
		}
	case m.Numerics == "" || m.Numerics == model.NumericsLlamaCpp:
		m.Numerics = n
	case m.Numerics != n:
		return fmt.Errorf("golden: paths declare numerics %s and %s (each backend's default differs: ggml-cpu on cpu, plain elsewhere); a golden records one profile: give --numerics plain, which every backend implements", m.Numerics, n)
	}
	return nil
}

// NumericsMismatchError says that Verify was asked to run a golden's paths
// under another numerics profile than the one it was recorded under.
type NumericsMismatchError struct {
	Recorded, Asked string
}

func (e *NumericsMismatchError) Error() string {
	return fmt.Sprintf("golden: recorded under numerics %s, asked to verify under %s: a golden holds only for the arithmetic it was recorded with (re-record it, or pass --allow-numerics-change to compare anyway)",
		e.Recorded, e.Asked)
}
