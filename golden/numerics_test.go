package golden

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/metallic-go/metallic/model"
)

// TestNumericsRecorded: a golden records the profile its paths declared,
// reads back with it, and Verify runs the paths under it; another profile
// is refused with both named unless AllowNumericsChange; a golden without
// the key (older than profiles) reads as ggml-cpu; an unknown value is
// corrupt.
func TestNumericsRecorded(t *testing.T) {
	dir := t.TempDir()
	out, g := recordFake(t, dir, RecordOptions{PathOptions: model.PathOptions{Numerics: "plain"}})
	if g.Meta.Numerics != "plain" {
		t.Fatalf("recorded numerics %q, want plain", g.Meta.Numerics)
	}
	back, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Meta.Numerics != "plain" {
		t.Errorf("read back numerics %q, want plain", back.Meta.Numerics)
	}
	stories := repoFile(t, "testdata/stories260K.gguf")
	rep, err := Verify(back, VerifyOptions{Model: stories})
	if err != nil || !rep.Pass || rep.Numerics != "plain" || rep.RecordedNumerics != "plain" {
		t.Fatalf("verify: %v, report %+v", err, rep)
	}
	_, err = Verify(back, VerifyOptions{Model: stories, Numerics: "ggml-cpu"})
	var nm *NumericsMismatchError
	if !errors.As(err, &nm) || nm.Recorded != "plain" || nm.Asked != "ggml-cpu" {
		t.Errorf("verify under ggml-cpu: error %v, want a NumericsMismatchError naming plain and ggml-cpu", err)
	}
	rep, err = Verify(back, VerifyOptions{Model: stories, Numerics: "ggml-cpu", AllowNumericsChange: true})
	if err != nil || rep.Numerics != "ggml-cpu" || rep.RecordedNumerics != "plain" {
		t.Errorf("verify with AllowNumericsChange: %v, ran %q recorded %q", err, rep.Numerics, rep.RecordedNumerics)
	}

	legacy := *g
	legacy.Meta.Numerics = ""
	lf := filepath.Join(dir, "legacy.golden.gguf")
	if err := legacy.WriteFile(lf); err != nil {
		t.Fatal(err)
	}
	if back, err := Open(lf); err != nil {
		t.Error(err)
	} else if back.Meta.Numerics != LegacyNumerics {
		t.Errorf("a golden without %s reads as numerics %q, want %s", KeyNumerics, back.Meta.Numerics, LegacyNumerics)
	}
	bad := *g
	bad.Meta.Numerics = "fast"
	bf := filepath.Join(dir, "bad.golden.gguf")
	if err := bad.WriteFile(bf); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bf); !errors.Is(err, ErrCorrupt) {
		t.Errorf("numerics \"fast\": error %v, want ErrCorrupt", err)
	}
}
