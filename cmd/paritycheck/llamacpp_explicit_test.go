package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/llamacpp"
)

// TestLlamacppAskedForExplicitly: when llama.cpp is asked for — by
// METALLIC_LLAMACPP_DIR or by naming it in --paths — and does not load
// (missing, or a folder mixing in another build's CPU backends), the
// report and steps exit 2 naming the reason instead of skipping it.
func TestLlamacppAskedForExplicitly(t *testing.T) {
	m := genStories(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		env  string // METALLIC_LLAMACPP_DIR
		args []string
		want string
	}{
		{"env, report", empty, []string{"report", m, "-n", "2", "--decode", "1"}, "lacks libggml-base.so"},
		{"env, steps", empty, []string{"steps", m, "--decode", "1", "--json"}, "lacks libggml-base.so"},
		{"env, tokens", empty, []string{"tokens", m, "-n", "2"}, "lacks libggml-base.so"},
		{"paths, steps", empty, []string{"steps", m, "--paths", "reference,llamacpp", "--decode", "1"}, "lacks libggml-base.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(llamacpp.EnvDir, tc.env)
			code, stdout, stderr := genRun(tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %.300q, want nothing", stdout)
			}
		})
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return
	}
	// A copy of the pinned build with a CPU backend of another build.
	src := testenv.GGMLLib(t)
	mixed := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(mixed, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mixed, "libggml-cpu-znver9.so"), []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(llamacpp.EnvDir, mixed)
	code, _, stderr := genRun("steps", m, "--decode", "1")
	if code != 2 || !strings.Contains(stderr, "libggml-cpu-znver9.so is not a variant of the pinned release") {
		t.Errorf("mixed folder: exit %d, stderr %q; want exit 2 naming libggml-cpu-znver9.so", code, stderr)
	}
}

// TestLlamacppImplicitSkip: only the implicit default (no --paths, no
// METALLIC_LLAMACPP_DIR) may go on without llama.cpp, and then it says so
// in the text output and in the JSON. The built CLI runs outside any
// checkout, where it finds no llama.cpp.
func TestLlamacppImplicitSkip(t *testing.T) {
	needUnix(t)
	m, err := filepath.Abs(genStories(t))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{llamacpp.EnvDir + "=", llamacpp.EnvCache + "="}
	for _, cmd := range []string{"report", "steps"} {
		args := []string{cmd, m, "--decode", "1"}
		if cmd == "report" {
			args = append(args, "-n", "2")
		}
		r := runCLI(t, cliOptions{env: env}, append(args, "--json")...)
		if r.code != 0 {
			t.Fatalf("%s --json: exit %d\n%s", cmd, r.code, r.stderr)
		}
		var got struct {
			Skipped map[string]string `json:"skipped"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%s: stdout is not JSON: %v", cmd, err)
		}
		if !strings.Contains(got.Skipped["llamacpp"], "no library folder") {
			t.Errorf("%s --json: skipped %v, want llamacpp with the reason", cmd, got.Skipped)
		}
		r = runCLI(t, cliOptions{env: env}, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "llamacpp skipped: llamacpp: no library folder") {
			t.Errorf("%s: exit %d, stdout does not say why llamacpp was skipped:\n%s", cmd, r.code, r.stdout)
		}
	}
}
