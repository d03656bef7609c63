// Command paritycheck runs GGUF models through metallic's execution paths
// (reference, dsl, llamacpp) and reports where they agree and where they
// drift. Run `paritycheck help` for the commands.
//
// Exit codes: 0 ok, 1 parity failure, 2 bad input or usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file and registers itself
// in an init function, so files can be added without touching this one.
type command struct {
	name    string
	summary string // one line for the command list
	// run parses args (everything after the command name) and does the work.
	// It returns a *usageError for bad flags, errParity (wrapped) for a parity
	// failure, and any other error for bad input.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("paritycheck: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errParity marks a run that worked but found a parity failure (exit 1).
var errParity = errors.New("parity failure")

// usageError is a command-line mistake (exit 2, with a hint).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// defaultCommand runs when the first argument is not a command name: the
// full report on MODEL (or the embedded model).
const defaultCommand = "report"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one paritycheck invocation and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	name := defaultCommand
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			if len(args) > 1 {
				if c, ok := commands[args[1]]; ok {
					return exitCode(c.run([]string{"--help"}, stdout, stderr), stderr)
				}
			}
			printHelp(stdout)
			return 0
		}
		if c, ok := commands[args[0]]; ok {
			name = c.name
			args = args[1:]
		}
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "paritycheck: command %q is not built in\n", name)
		return 2
	}
	return exitCode(c.run(args, stdout, stderr), stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelpShown), errors.Is(err, errParsedOnly):
		return 0
	case errors.Is(err, errParity):
		fmt.Fprintf(stderr, "paritycheck: %v\n", err)
		return 1
	default:
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "paritycheck: %v\n(run `paritycheck help` for usage)\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "paritycheck: %v\n", err)
		return 2
	}
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `paritycheck — prove that metallic's execution paths compute the same thing.

Usage:
  paritycheck [MODEL] [flags]        full parity report (MODEL defaults to the
                                     embedded stories260K)
  paritycheck COMMAND [args] [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Every command takes --json (one JSON object on stdout, nothing else) and
--help. Exit codes: 0 ok, 1 parity failure, 2 bad input or usage.
Paths: reference, dsl, llamacpp. Backends: cpu, metal, cuda. A path may
name its backend, PATH@BACKEND (--paths reference@cpu,reference@cuda); a
bare name runs on --backend (llamacpp always on the cpu).
Run "paritycheck help COMMAND" for a command's flags.
`)
}

// trimFlagsHelp is used by commands to render flag defaults consistently.
func trimFlagsHelp(s string) string { return strings.TrimRight(s, "\n") + "\n" }
