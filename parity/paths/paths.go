// Package paths links every execution path into a program: importing it
// (for its side effect) registers reference, dsl and llamacpp with
// model.RegisterPath.
package paths

import (
	// Registered paths.
	_ "github.com/metallic-go/metallic/dsl"
	_ "github.com/metallic-go/metallic/llamacpp"
	_ "github.com/metallic-go/metallic/reference"
)
