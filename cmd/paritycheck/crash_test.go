package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashCase is one command line that must exit 2 with a message.
type crashCase struct {
	name string
	args []string
	want string // in stderr
}

// hugeSizeCases are sizes far beyond what the model or the machine allows.
func hugeSizeCases(model string) []crashCase {
	out := filepath.Join(os.TempDir(), "paritycheck-crash-never-written.golden.gguf")
	return []crashCase{
		{"generate --ctx 1e9", []string{"generate", model, "--ctx", "1000000000", "-n", "2"}, "exceeds the model's context length of 2048"},
		{"logits --ctx 1e9", []string{"logits", model, "--ctx", "1000000000", "--tokens", "1"}, "exceeds the model's context length of 2048"},
		{"generate dsl --ctx 1e9", []string{"generate", model, "--path", "dsl", "--ctx", "1000000000", "-n", "2"}, "exceeds the model's context length of 2048"},
		{"logits dsl --ctx 1e9", []string{"logits", model, "--path", "dsl", "--ctx", "1000000000", "--tokens", "1"}, "exceeds the model's context length of 2048"},
		{"generate -n MaxInt64", []string{"generate", model, "-n", "9223372036854775807"}, "-n 9223372036854775807: at most 2048 tokens can follow the 1-token prompt"},
		{"generate -n 1e11", []string{"generate", model, "-n", "100000000000"}, "-n 100000000000: at most 2048 tokens"},
		{"generate -n past int64", []string{"generate", model, "-n", "99999999999999999999"}, "out of range"},
		{"golden record -n MaxInt64", []string{"golden", "record", model, "--out", out, "-n", "9223372036854775807"}, "-n 9223372036854775807: at most 2044 tokens can follow the 5-token prompt"},
		{"bench -n MaxInt64", []string{"bench", model, "-n", "9223372036854775807", "--reps", "1"}, "-n 9223372036854775807: at most 2017 tokens"},
		{"bench --prompt-len MaxInt64", []string{"bench", model, "--prompt-len", "9223372036854775807"}, "9223372036854775807-token prompt exceeds the context"},
		{"steps --decode MaxInt64", []string{"steps", model, "--paths", "reference", "--decode", "9223372036854775807"}, "--decode 9223372036854775807"},
		{"tokens -n MaxInt64", []string{"tokens", model, "--paths", "reference,dsl", "-n", "9223372036854775807"}, "-n 9223372036854775807: at most 2044 tokens"},
		{"report -n MaxInt64", []string{"report", model, "--paths", "reference,dsl", "-n", "9223372036854775807"}, "-n 9223372036854775807"},
		// The flags of issues 11 and 12 along the same paths.
		{"generate --kv f16 --flash-attn on --ctx 1e9", []string{"generate", model, "--kv", "f16", "--flash-attn", "on", "--ctx", "1000000000", "-n", "2"}, "exceeds the model's context length of 2048"},
		{"logits --numerics plain --kv f16 --ctx 1e9", []string{"logits", model, "--numerics", "plain", "--kv", "f16", "--ctx", "1000000000", "--tokens", "1"}, "exceeds the model's context length of 2048"},
		{"generate --backend cuda --ctx 1e9", []string{"generate", model, "--backend", "cuda", "--ctx", "1000000000", "-n", "2"}, "exceeds the model's context length of 2048"},
		{"bench --kv f16 -n MaxInt64", []string{"bench", model, "--kv", "f16", "-n", "9223372036854775807", "--reps", "1"}, "-n 9223372036854775807: at most 2017 tokens"},
		{"steps --numerics plain --decode MaxInt64", []string{"steps", model, "--paths", "reference,dsl", "--numerics", "plain", "--decode", "9223372036854775807"}, "--decode 9223372036854775807"},
		{"report --html -n MaxInt64", []string{"report", model, "--paths", "reference,dsl", "--html", out + ".html", "-n", "9223372036854775807"}, "-n 9223372036854775807"},
		{"golden record --numerics plain -n MaxInt64", []string{"golden", "record", model, "--out", out, "--numerics", "plain", "-n", "9223372036854775807"}, "-n 9223372036854775807: at most 2044 tokens"},
		{"--kv bad value", []string{"generate", model, "--kv", "q4_0"}, `--kv "q4_0": want f32 or f16`},
		{"--flash-attn bad value", []string{"steps", model, "--flash-attn", "auto"}, `--flash-attn "auto": want on or off`},
		{"--numerics bad value", []string{"bench", model, "--numerics", "fast"}, `--numerics "fast": want plain or ggml-cpu`},
		{"--html not .html", []string{"report", model, "--html", out}, "the file name must end in .html"},
		{"--flash-attn on, dsl", []string{"steps", model, "--paths", "reference,dsl", "--flash-attn", "on"}, "does not apply to the dsl path"},
	}
}

// specialFileCases give a named pipe, a device, a directory or an oversized
// file wherever a command reads a path.
func specialFileCases(t *testing.T, model string) []crashCase {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.gguf")
	fifoJSON := filepath.Join(dir, "fifo.json")
	for _, p := range []string{fifo, fifoJSON} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	zeroJSON := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", zeroJSON); err != nil {
		t.Fatal(err)
	}
	sparse := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	bigSpec, bigVocab := sparse("big-spec.json", 256<<20), sparse("big-tokenizer.json", 256<<20)
	golden := filepath.Join("..", "..", "testdata", "golden", "stories260K.golden.gguf")
	golden, _ = filepath.Abs(golden)
	out := filepath.Join(dir, "out.gguf")
	const notRegular = "not a regular file"
	return []crashCase{
		{"inspect fifo", []string{"inspect", fifo}, notRegular},
		{"inspect /dev/zero", []string{"inspect", "/dev/zero"}, notRegular},
		{"inspect directory", []string{"inspect", dir}, notRegular},
		{"generate model fifo", []string{"generate", fifo, "-n", "1"}, notRegular},
		{"golden record model fifo", []string{"golden", "record", fifo, "--out", out}, notRegular},
		{"golden verify fifo", []string{"golden", "verify", fifo}, notRegular},
		{"golden verify /dev/zero", []string{"golden", "verify", "/dev/zero"}, notRegular},
		{"golden verify --model /dev/zero", []string{"golden", "verify", golden, "--model", "/dev/zero"}, notRegular},
		{"golden verify --model fifo", []string{"golden", "verify", golden, "--model", fifo}, notRegular},
		{"golden verify --html --numerics --model fifo", []string{"golden", "verify", golden, "--html", filepath.Join(dir, "v.html"), "--numerics", "ggml-cpu", "--model", fifo}, notRegular},
		{"spec fifo, --kv f16", []string{"generate", model, "--path", "dsl", "--kv", "f16", "--spec", fifoJSON, "-n", "1"}, notRegular},
		{"spec fifo", []string{"generate", model, "--path", "dsl", "--spec", fifoJSON, "-n", "1"}, notRegular},
		{"spec /dev/zero", []string{"generate", model, "--path", "dsl", "--spec", "/dev/zero", "-n", "1"}, notRegular},
		{"spec directory", []string{"generate", model, "--path", "dsl", "--spec", dir, "-n", "1"}, notRegular},
		{"spec too large", []string{"generate", model, "--path", "dsl", "--spec", bigSpec, "-n", "1"}, "file too large"},
		{"tokenizer json fifo", []string{"tokenize", fifoJSON, "x"}, notRegular},
		{"tokenizer json /dev/zero", []string{"tokenize", zeroJSON, "x"}, notRegular},
		{"tokenizer json too large", []string{"tokenize", bigVocab, "x"}, "file too large"},
		{"synth --vocab fifo", []string{"synth", "--preset", "tiny-qwen2", "--out", out, "--vocab", fifoJSON}, notRegular},
		{"synth --vocab /dev/zero", []string{"synth", "--preset", "tiny-qwen2", "--out", out, "--vocab", "/dev/zero"}, notRegular},
		{"synth --vocab too large", []string{"synth", "--preset", "tiny-qwen2", "--out", out, "--vocab", bigVocab}, "file too large"},
	}
}

// TestNoCrashOnHostileInput runs the built CLI on huge sizes and special
// files: every run must exit 2 with a message, within its timeout, and
// print no Go stack trace, panic or signal.
func TestNoCrashOnHostileInput(t *testing.T) {
	needUnix(t)
	model, err := filepath.Abs(filepath.Join("..", "..", "testdata", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	cases := append(hugeSizeCases(model), specialFileCases(t, model)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, cliOptions{timeout: 60 * time.Second}, tc.args...)
			if r.timedOut {
				t.Fatalf("%v: still running after 60 s (a read that never returns?)\nstderr: %s", tc.args, r.stderr)
			}
			if sign := r.crashed(); sign != "" {
				t.Fatalf("%v: crashed (%q in the output), exit %d\nstderr:\n%s", tc.args, sign, r.code, tail(r.stderr, 2000))
			}
			if r.code != 2 {
				t.Fatalf("%v: exit %d, want 2\nstderr:\n%s", tc.args, r.code, tail(r.stderr, 2000))
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: stderr does not say %q:\n%s", tc.args, tc.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("%v: stdout %q, want nothing", tc.args, r.stdout)
			}
		})
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
