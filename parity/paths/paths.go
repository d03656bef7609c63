// Package paths links every execution path into a program: importing it
// (for its side effect) registers reference and llamacpp with
// model.RegisterPath. The dsl path is added here once its package builds.
package paths

import (
	// Registered paths.
	_ "github.com/metallic-go/metallic/llamacpp"
	_ "github.com/metallic-go/metallic/reference"
)
