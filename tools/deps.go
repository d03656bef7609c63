//go:build tools

// Package tools pins module dependencies that are used across the tree, so
// that `go mod tidy` keeps them while packages are being written.
package tools

import (
	_ "github.com/ebitengine/purego"
	_ "github.com/gpustack/gguf-parser-go"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/plot"
)
