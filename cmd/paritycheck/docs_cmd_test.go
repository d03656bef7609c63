package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docCommand is one paritycheck command line found in a docs code block.
type docCommand struct {
	file string
	line int
	args []string // after the program name
}

// docCommands returns every paritycheck invocation inside a fenced code
// block of the docs: "paritycheck …", "./paritycheck …", "go run
// ./cmd/paritycheck …" (not "go build -o paritycheck"). The arguments end
// at a shell comment, pipe, redirection or command separator.
func docCommands(t *testing.T) []docCommand {
	t.Helper()
	var out []docCommand
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		inBlock, n := false, 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inBlock = !inBlock
				continue
			}
			if !inBlock || !strings.Contains(line, "paritycheck") {
				continue
			}
			words, err := shellWords(line)
			if err != nil {
				t.Errorf("%s:%d: %v", filepath.Base(f), n, err)
				continue
			}
			for i, w := range words {
				prog := w == "paritycheck" || w == "./paritycheck"
				run := w == "./cmd/paritycheck" && i > 0 && words[i-1] == "run"
				if (!prog && !run) || i > 0 && words[i-1] == "-o" {
					continue
				}
				var args []string
				for _, a := range words[i+1:] {
					if strings.HasPrefix(a, "#") || a == "|" || a == "||" || a == "&&" || a == ";" || strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") {
						break
					}
					args = append(args, a)
				}
				out = append(out, docCommand{file: filepath.Base(f), line: n, args: args})
				break
			}
		}
	}
	return out
}

// shellWords splits a shell line into words, honouring single and double
// quotes and dropping a comment (enough for documentation examples).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '#' && !inWord:
			return words, nil
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, &usageError{"unbalanced quote"}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestDocsCommandLines: every paritycheck command line in a docs code
// block names a real command and gets through that command's flag parsing
// (no unknown flag or command); nothing is run.
func TestDocsCommandLines(t *testing.T) {
	cmds := docCommands(t)
	if len(cmds) < 10 {
		t.Fatalf("found %d paritycheck command lines in the docs, expected the README's examples at least", len(cmds))
	}
	// The docs show the flags of issues 11 and 12 and the cuda backend, so
	// those lines are checked too.
	used := map[string]bool{}
	for _, c := range cmds {
		for i, a := range c.args {
			used[a] = true
			if a == "--backend" && i+1 < len(c.args) {
				used["--backend "+c.args[i+1]] = true
			}
		}
	}
	for _, f := range []string{"--numerics", "--kv", "--flash-attn", "--html", "--backend cuda"} {
		if !used[f] {
			t.Errorf("no paritycheck command line in the docs uses %s", f)
		}
	}
	parseOnly = true
	defer func() { parseOnly = false }()
	for _, c := range cmds {
		if len(c.args) > 0 && !strings.HasPrefix(c.args[0], "-") {
			_, isCmd := commands[c.args[0]]
			isModel := c.args[0] == "MODEL" || strings.HasSuffix(c.args[0], ".gguf")
			if !isCmd && !isModel && c.args[0] != "help" {
				t.Errorf("%s:%d: paritycheck %s: %q is not a command (the default report would read it as a model file)", c.file, c.line, strings.Join(c.args, " "), c.args[0])
				continue
			}
		}
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != 0 {
			t.Errorf("%s:%d: paritycheck %s: exit %d: %s", c.file, c.line, strings.Join(c.args, " "), code, strings.TrimSpace(stderr.String()))
		}
	}
}

// TestDocsCommandLinesCatchMistakes: the docs check itself finds an
// unknown flag and an unknown command.
func TestDocsCommandLinesCatchMistakes(t *testing.T) {
	parseOnly = true
	defer func() { parseOnly = false }()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"steps", "MODEL", "--frobnicate"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := run([]string{"generate", "MODEL", "--tokens", "1"}, &stdout, &stderr); code != 0 {
		t.Errorf("good line: exit %d: %s", code, stderr.String())
	}
	words, err := shellWords(`go run ./cmd/paritycheck golden record m.gguf --prompt "Once upon a time" -n 8 # note`)
	if err != nil || len(words) != 10 || words[7] != "Once upon a time" {
		t.Errorf("shellWords: %q, %v", words, err)
	}
}
