//go:build linux || darwin

package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/metallic-go/metallic/internal/testenv"
	"github.com/metallic-go/metallic/model"
	_ "github.com/metallic-go/metallic/parity/paths"
	"github.com/metallic-go/metallic/repro"
)

// fakeNVCC records its arguments and "builds" a runner that prints a
// figures line and exits with $FAKE_RC (the CUDA runner's contract: 0
// figures identical, 1 different, 2 could not run).
const fakeNVCC = `#!/bin/sh
if [ "$1" = --version ]; then echo "Cuda compilation tools, release 13.0 (fake)"; exit 0; fi
echo "$*" >> "$FAKE_DIR/nvcc.log"
out=
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out=$2; fi
  shift
done
printf '#!/bin/sh\necho "figures nmse=0x1p-40 identical=1 bitexact=1"\nexit ${FAKE_RC:-0}\n' > "$out"
chmod +x "$out"
`

// scripts/repro-gpu.sh builds each repro's CUDA runner with nvcc and the
// options the cuda backend gives NVRTC (in their nvcc spelling, host
// floating point uncontracted), runs it from the repro folder and sums up
// the exit codes: 0 all reproduced, 1 some differ, 2 some could not run.
func TestReproGPUScript(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "repro")
	_, err := repro.Write(repro.Options{File: filepath.Join(testenv.RepoRoot(t), "testdata", "stories260K.gguf"), Path: "dsl",
		PathOptions: model.PathOptions{Numerics: "plain"}, Checkpoint: "blk.1.ffn_act", Prompt: testenv.StoriesPrompt(3), Decode: 1, Out: rep})
	require.NoError(t, err)
	nvcc := filepath.Join(dir, "nvcc")
	require.NoError(t, os.WriteFile(nvcc, []byte(fakeNVCC), 0o755))
	run := func(rc string, dirs ...string) (int, string) {
		cmd := exec.Command("sh", append([]string{"repro-gpu.sh"}, dirs...)...)
		cmd.Env = append(os.Environ(), "NVCC="+nvcc, "FAKE_DIR="+dir, "FAKE_RC="+rc, "PATH=/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, string(out)
	}
	code, out := run("0", rep)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "reproduced the step table's figures exactly")
	log, err := os.ReadFile(filepath.Join(dir, "nvcc.log"))
	require.NoError(t, err)
	for _, want := range []string{"-arch=sm_90", "--std=c++17", "--fmad=true", "--ftz=false", "--prec-div=true", "--prec-sqrt=true",
		"-Xcompiler -ffp-contract=off", "-o cuda/runner cuda/runner.cu"} {
		require.True(t, strings.Contains(string(log), want), "nvcc got %q, missing %q", log, want)
	}
	code, out = run("1", rep)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "figures differ")
	code, out = run("0", rep, filepath.Join(dir, "nothing"))
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "not a repro folder")
}
