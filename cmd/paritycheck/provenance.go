package main

import (
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/metallic-go/metallic/golden"
)

// provenance are the key/value lines an HTML report ends with: the model
// file's SHA-256, the tool's build, the machine and the run's time and
// command line.
func provenance(modelFile string, start time.Time) [][2]string {
	sha, err := golden.FileSHA256(modelFile)
	if err != nil {
		sha = err.Error()
	}
	host, _ := os.Hostname()
	return [][2]string{
		{"model sha256", sha},
		{"tool", golden.ToolVersion()},
		{"machine", runtime.GOOS + "/" + runtime.GOARCH + ", " + host},
		{"started", start.UTC().Format(time.RFC3339)},
		{"seconds", time.Since(start).Round(time.Millisecond).String()},
		{"command", strings.Join(append([]string{"paritycheck"}, os.Args[1:]...), " ")},
	}
}
