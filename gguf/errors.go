package gguf

import "fmt"

// formatError is an Open/Parse error: its message names the problem and it
// unwraps to ErrMalformed or ErrUnsupported.
type formatError struct {
	kind error
	msg  string
}

func (e *formatError) Error() string { return "gguf: " + e.msg }
func (e *formatError) Unwrap() error { return e.kind }

func malformed(format string, a ...any) error {
	return &formatError{ErrMalformed, fmt.Sprintf(format, a...)}
}

func unsupported(format string, a ...any) error {
	return &formatError{ErrUnsupported, fmt.Sprintf(format, a...)}
}
