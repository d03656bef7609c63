package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metallic-go/metallic/internal/testenv"
)

var cli struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildCLI builds paritycheck once per test process, into a folder with no
// go.mod above it (so that the binary finds no repository cache by
// itself), and returns its path.
func buildCLI(t *testing.T) string {
	t.Helper()
	cli.once.Do(func() {
		dir, err := os.MkdirTemp("", "paritycheck-cli-")
		if err != nil {
			cli.err = err
			return
		}
		cli.path = filepath.Join(dir, "paritycheck")
		cmd := exec.Command("go", "build", "-o", cli.path, ".")
		cli.out, cli.err = cmd.CombinedOutput()
	})
	if cli.err != nil {
		t.Fatalf("go build: %v\n%s", cli.err, cli.out)
	}
	return cli.path
}

// cliResult is one run of the built CLI.
type cliResult struct {
	code           int
	stdout, stderr string
	timedOut       bool
}

// cliOptions configure runCLI.
type cliOptions struct {
	dir     string        // working directory (default: a fresh temporary one)
	env     []string      // added to the environment
	timeout time.Duration // default 120 s
}

// runCLI runs the built CLI as a user would, under an address-space limit
// of 4 GiB (ulimit -v) so that a runaway allocation fails in the child
// instead of exhausting the machine, and with a timeout so that a read that
// never returns fails the test instead of hanging it.
func runCLI(t *testing.T, o cliOptions, args ...string) cliResult {
	t.Helper()
	bin := buildCLI(t)
	if o.timeout == 0 {
		o.timeout = 120 * time.Second
	}
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", `ulimit -v 4194304 && exec "$0" "$@"`, bin}, args...)...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), o.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String(), timedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// crashSigns are what the Go runtime prints when a program crashes.
var crashSigns = []string{"goroutine ", "panic:", "runtime error", "fatal error", "signal ", "SIGSEGV", "SIGKILL", "[signal"}

// crashed returns the first sign of a crash in a run's output, or "".
func (r cliResult) crashed() string {
	for _, s := range crashSigns {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			return s
		}
	}
	return ""
}

// needUnix skips where the CLI cannot be run under sh with ulimit.
func needUnix(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("runs the CLI under sh with ulimit -v")
	}
	if _, err := exec.LookPath("go"); err != nil {
		testenv.NeedOracle(t, "the go command is not on PATH to build the CLI")
	}
}

// TestMain removes the CLI built by buildCLI.
func TestMain(m *testing.M) {
	code := m.Run()
	if cli.path != "" {
		os.RemoveAll(filepath.Dir(cli.path))
	}
	os.Exit(code)
}
